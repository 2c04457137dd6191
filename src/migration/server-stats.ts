/**
 * `stats` of several servers at once, each on a connection of its own (copy/meta-client.ts: never
 * the proxy's), kept open from one read to the next: for `memshift plan` (src/cli/plan.ts) and for
 * a sidecar's load watch (src/discovery/load-watch.ts). Each answer is the server's stats, or why
 * it gave none.
 */
import { endpointOf } from '../backend/index.js';
import type { ServerSpec } from '../config/types.js';
import { MetaClient } from '../copy/meta-client.js';

export type StatsAnswer = { readonly stats: ReadonlyMap<string, string> } | { readonly error: string };

export class StatsReader {
  readonly #clients = new Map<string, MetaClient>();

  /** `timeoutMs`: how long a server may take to connect, and then to answer. */
  constructor(readonly timeoutMs: number) {}

  /** One `stats` to each server, all at once, by address. */
  async read(servers: readonly ServerSpec[]): Promise<Map<string, StatsAnswer>> {
    const out = new Map<string, StatsAnswer>();
    await Promise.all(
      servers.map(async (s) => {
        let client = this.#clients.get(s.address);
        if (client === undefined) {
          client = new MetaClient(endpointOf(s), { timeoutMs: this.timeoutMs, connectTimeoutMs: this.timeoutMs });
          this.#clients.set(s.address, client);
        }
        try {
          out.set(s.address, { stats: await client.stats() });
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          out.set(s.address, { error: message.startsWith(`${s.address}: `) ? message.slice(s.address.length + 2) : message });
        }
      }),
    );
    return out;
  }

  /** Closes the connections to servers not in `keep` (every one without it). */
  close(keep: ReadonlySet<string> = new Set()): void {
    for (const [address, client] of this.#clients) {
      if (keep.has(address)) continue;
      client.close();
      this.#clients.delete(address);
    }
  }
}
