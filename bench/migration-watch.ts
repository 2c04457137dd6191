/**
 * The pieces a migration bench round talks to memshift with: the preload, GET /migration, POST
 * /migration/start, and RunWatch, which polls a proxy during a load (see migration-round.ts).
 */
import { stats, TextClient, type MemshiftHandle, type ServerHandle } from '../test/support/harness.js';
import type { MigrationStatusJson } from './migration-result.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function migrationStatus(adminPort: number): Promise<MigrationStatusJson> {
  const r = await fetch(`http://127.0.0.1:${adminPort}/migration`, { signal: AbortSignal.timeout(3_000) });
  if (!r.ok) throw new Error(`GET /migration answered ${r.status}: ${await r.text()}`);
  return (await r.json()) as MigrationStatusJson;
}

/** POST /migration/start (what `memshift migrate start` sends); throws unless the sidecar took it. */
export async function startMigration(adminPort: number, token: string): Promise<MigrationStatusJson> {
  const r = await fetch(`http://127.0.0.1:${adminPort}/migration/start`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}', signal: AbortSignal.timeout(3_000) });
  if (!r.ok) throw new Error(`POST /migration/start answered ${r.status}: ${await r.text()}`);
  return (await r.json()) as MigrationStatusJson;
}

/** Resolves once the proxy's `cmd_get` grows (a load reached it); throws after `timeoutMs`. */
export async function untilLoad(proxy: ServerHandle, timeoutMs: number, cancelled: () => boolean): Promise<void> {
  const gets = async (): Promise<number> => Number((await stats(proxy.port, proxy.host)).get('cmd_get') ?? 0);
  const first = await gets();
  const deadline = Date.now() + timeoutMs;
  while (!cancelled()) {
    if ((await gets()) > first) return;
    if (Date.now() > deadline) throw new Error(`no load reached ${proxy.address} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** `keys` sets of 100-byte values through `proxy`, pipelined with noreply, 1,000 per `mn`. */
export async function preload(proxy: ServerHandle, keys: number): Promise<void> {
  const value = 'v'.repeat(100);
  const c = await TextClient.connect(proxy.port, proxy.host);
  try {
    for (let i = 0; i < keys; i += 1_000) {
      const n = Math.min(1_000, keys - i);
      const batch = Array.from({ length: n }, (_, j) => `set bench:mig:${i + j} 0 0 100 noreply\r\n${value}\r\n`).join('');
      await c.write(`${batch}mn\r\n`);
      const reply = (await c.read((b) => (b.toString('latin1').endsWith('MN\r\n') ? true : 0), 30_000)).toString('latin1');
      if (reply !== 'MN\r\n') throw new Error(`preload: the proxy answered ${JSON.stringify(reply.slice(0, 200))}`);
    }
  } finally {
    await c.close();
  }
}

/**
 * Polls, every 200 ms, the proxy's `stats` and, for the migrating proxy, GET /migration. Its
 * `cmd_get` growing gives the load's window as the proxy saw it (memcaslap starts its load a moment
 * after it is spawned and exits a moment after the load ended); the phases give when each was first
 * seen. Times in seconds after `zero`, each to within a poll (a window edge is the midpoint between
 * the two polls around it).
 */
export class RunWatch {
  readonly timeline: { phase: string; atS: number }[] = [];
  last: MigrationStatusJson | null = null;
  lastError: string | null = null;
  loadStartS: number | null = null;
  loadEndS: number | null = null;
  #gets: number | null = null;
  #prevAtS = 0;
  #lastGrowthS: number | null = null;
  #stop = false;
  readonly #loop: Promise<void>;

  constructor(
    readonly proxy: ServerHandle,
    readonly adminPort: number | null,
    readonly zero: number,
  ) {
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    while (!this.#stop) {
      const [load, migration] = await Promise.allSettled([stats(this.proxy.port, this.proxy.host), this.adminPort === null ? Promise.resolve(null) : migrationStatus(this.adminPort)]);
      const atS = (Date.now() - this.zero) / 1000;
      if (load.status === 'fulfilled') this.#noteGets(Number(load.value.get('cmd_get') ?? 0), atS);
      else this.lastError = (load.reason as Error).message;
      if (migration.status === 'fulfilled' && migration.value !== null) {
        const s = migration.value;
        this.last = s;
        const phase = s.phase ?? 'none';
        if (this.timeline.at(-1)?.phase !== phase) this.timeline.push({ phase, atS });
      } else if (migration.status === 'rejected') {
        this.lastError = (migration.reason as Error).message;
      }
      this.#prevAtS = atS;
      if (!this.#stop) await sleep(200);
    }
  }

  #noteGets(gets: number, atS: number): void {
    if (this.#gets !== null && gets > this.#gets) {
      this.loadStartS ??= (this.#prevAtS + atS) / 2;
      this.#lastGrowthS = atS;
      this.loadEndS = null;
    } else if (this.#lastGrowthS !== null && this.loadEndS === null) {
      this.loadEndS = (this.#lastGrowthS + atS) / 2;
    }
    this.#gets = gets;
  }

  get done(): boolean {
    return this.last?.phase === 'done';
  }

  /** Resolves when done, or after `timeoutMs`, or when `cancelled()`; then stops polling. */
  async waitDone(timeoutMs: number, cancelled: () => boolean): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.done && Date.now() < deadline && !cancelled()) await sleep(100);
    await this.stop();
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#loop;
  }

  firstSeen(phases: readonly string[]): number | null {
    return this.timeline.find((t) => phases.includes(t.phase))?.atS ?? null;
  }
}

export function warnings(proc: MemshiftHandle): { count: number; first?: string } {
  const noisy = proc.logs().split('\n').filter((l) => /"level":(40|50|60)/.test(l));
  return noisy.length === 0 ? { count: 0 } : { count: noisy.length, first: noisy[0]?.slice(0, 300) ?? '' };
}
