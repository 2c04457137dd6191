/**
 * The client load: WORKERS connections through memshift, each owning its own slice of the keys and
 * counters, so it knows what every read must return. A worker runs one request at a time: gets,
 * multi-gets, sets with the next version, incr (exactly previous + 1), deletes followed by a get
 * that must miss. Every reply is checked; a wrong one is a stale value (an older version than the
 * last acknowledged write), a resurrected delete, a lost write (a miss with no delete), a wrong
 * counter or a foreign value (another key's value).
 */
import { TextClient } from '../../test/support/harness.js';
import { COUNTERS, counterName, keyName, SEED_KEYS, valueOf, type Cluster } from './cluster.js';

export const WORKERS = 4;
const REQUEST_TIMEOUT_MS = 10_000;
const MULTI_GET_KEYS = 8;

export const KINDS = ['get', 'multi-get', 'set', 'incr', 'delete', 'get after delete'] as const;
export type Kind = (typeof KINDS)[number];
export const WRONG = ['stale value', 'resurrected delete', 'lost write', 'wrong counter', 'foreign value'] as const;
export type Wrong = (typeof WRONG)[number];

/** What each key and counter must hold: the last acknowledged write of its (only) writer. */
export class Model {
  readonly version = new Int32Array(SEED_KEYS);
  readonly deleted = new Uint8Array(SEED_KEYS);
  /** A request on the key failed, so its outcome is unknown: the next read re-learns it. */
  readonly uncertain = new Uint8Array(SEED_KEYS);
  readonly counter = new Float64Array(COUNTERS);
  readonly counterUncertain = new Uint8Array(COUNTERS);
}

export class Tally {
  readonly requests = new Map<Kind, number>(KINDS.map((k) => [k, 0]));
  readonly wrong = new Map<Wrong, number>(WRONG.map((w) => [w, 0]));
  /** Keys read by multi-gets. */
  multiGetKeys = 0;
  errors = 0;
  readonly samples: string[] = [];

  get total(): number {
    return [...this.requests.values()].reduce((a, b) => a + b, 0);
  }

  get wrongTotal(): number {
    return [...this.wrong.values()].reduce((a, b) => a + b, 0);
  }

  addWrong(kind: Wrong, message: string): void {
    this.wrong.set(kind, this.wrong.get(kind)! + 1);
    if (this.samples.length < 10) this.samples.push(`${kind}: ${message}`);
  }

  addError(message: string): void {
    this.errors += 1;
    if (this.samples.length < 10) this.samples.push(`error: ${message}`);
  }
}

class ReplyError extends Error {}

/** Checks one read of seeded key `i` (`null`: a miss) against the model; `what` names the request. */
export function checkRead(model: Model, tally: Tally, i: number, seen: string | null, what: string): void {
  const key = keyName(i);
  const parsed = seen === null ? null : /^(.*)#v(\d+)$/.exec(seen);
  if (model.uncertain[i] === 1) {
    // After a failed request the key may hold either outcome: accept it and re-learn.
    model.uncertain[i] = 0;
    model.deleted[i] = parsed === null ? 1 : 0;
    if (parsed !== null) model.version[i] = Number(parsed[2]);
    return;
  }
  const expected = model.deleted[i] === 1 ? 'a miss (deleted)' : `v${model.version[i]}`;
  if (seen === null) {
    if (model.deleted[i] === 0) tally.addWrong('lost write', `${what} ${key}: a miss, expected ${expected}`);
  } else if (parsed === null || parsed[1] !== key) {
    tally.addWrong('foreign value', `${what} ${key}: "${seen}", expected ${expected}`);
  } else if (model.deleted[i] === 1) {
    tally.addWrong('resurrected delete', `${what} ${key}: "${seen}", expected ${expected}`);
  } else if (Number(parsed[2]) < model.version[i]!) {
    tally.addWrong('stale value', `${what} ${key}: "${seen}", expected ${expected} (or newer)`);
  }
}

/** The VALUE blocks of a get reply, by key. */
export function parseValues(reply: string): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  for (;;) {
    const nl = reply.indexOf('\r\n', pos);
    if (nl < 0) throw new ReplyError(`incomplete get reply: ${JSON.stringify(reply.slice(0, 200))}`);
    const line = reply.slice(pos, nl);
    if (line === 'END') return out;
    const m = /^VALUE (\S+) \d+ (\d+)/.exec(line);
    if (m === null) throw new ReplyError(`unexpected get reply line: ${JSON.stringify(line)}`);
    const start = nl + 2;
    out.set(m[1]!, reply.slice(start, start + Number(m[2])));
    pos = start + Number(m[2]) + 2;
  }
}

/** The running load: start it, read its tally while it runs, stop it. */
export class Load {
  readonly model = new Model();
  readonly tally = new Tally();
  #stopping = false;
  #workers: Promise<void>[] = [];

  constructor(private readonly cluster: Cluster) {}

  start(): void {
    // A worker that cannot reconnect ends; that is one more error, and the demo fails at the end.
    this.#workers = Array.from({ length: WORKERS }, (_, w) => this.#worker(w).catch((err: Error) => this.tally.addError(`worker ${w} stopped: ${err.message}`)));
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#workers);
  }

  async #connect(): Promise<TextClient> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await TextClient.connect(this.cluster.memshift.port, this.cluster.memshift.host);
      } catch (err) {
        if (attempt >= 5 || this.#stopping) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async #worker(w: number): Promise<void> {
    const keys = Array.from({ length: Math.ceil((SEED_KEYS - w) / WORKERS) }, (_, j) => w + j * WORKERS);
    const counters = Array.from({ length: Math.ceil((COUNTERS - w) / WORKERS) }, (_, j) => w + j * WORKERS);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]!;
    let client = await this.#connect();
    const ask = async (kind: Kind, line: string): Promise<string> => {
      this.tally.requests.set(kind, this.tally.requests.get(kind)! + 1);
      const reply = await client.request(line, REQUEST_TIMEOUT_MS);
      if (/^(SERVER_ERROR|CLIENT_ERROR|ERROR)/.test(reply)) throw new ReplyError(reply.trim());
      return reply;
    };
    const m = this.model;
    const t = this.tally;
    while (!this.#stopping) {
      const r = Math.random();
      const i = pick(keys);
      let c = -1; // the counter an incr touches
      try {
        if (r < 0.4) {
          const reply = await ask('get', `get ${keyName(i)}`);
          checkRead(m, t, i, parseValues(reply).get(keyName(i)) ?? null, 'get');
        } else if (r < 0.55) {
          const many = [...new Set(Array.from({ length: MULTI_GET_KEYS }, () => pick(keys)))];
          const values = parseValues(await ask('multi-get', `get ${many.map(keyName).join(' ')}`));
          t.multiGetKeys += many.length;
          for (const k of many) checkRead(m, t, k, values.get(keyName(k)) ?? null, 'multi-get');
        } else if (r < 0.8) {
          const value = valueOf(i, m.version[i]! + 1);
          const reply = await ask('set', `set ${keyName(i)} 0 0 ${value.length}\r\n${value}\r\n`);
          if (reply !== 'STORED\r\n') throw new ReplyError(`set ${keyName(i)}: ${reply.trim()}`);
          m.version[i]! += 1;
          m.deleted[i] = 0;
          m.uncertain[i] = 0;
        } else if (r < 0.93) {
          c = pick(counters);
          const reply = (await ask('incr', `incr ${counterName(c)} 1`)).trim();
          const got = Number(reply);
          if (m.counterUncertain[c] === 0 && got !== m.counter[c]! + 1) {
            t.addWrong('wrong counter', `incr ${counterName(c)}: ${reply}, expected ${m.counter[c]! + 1}`);
          }
          if (/^\d+$/.test(reply)) {
            m.counter[c] = got;
            m.counterUncertain[c] = 0;
          }
        } else {
          const reply = (await ask('delete', `delete ${keyName(i)}`)).trim();
          if (m.uncertain[i] === 0 && reply === 'NOT_FOUND' && m.deleted[i] === 0) t.addWrong('lost write', `delete ${keyName(i)}: NOT_FOUND, expected DELETED (v${m.version[i]})`);
          if (m.uncertain[i] === 0 && reply === 'DELETED' && m.deleted[i] === 1) t.addWrong('resurrected delete', `delete ${keyName(i)}: DELETED, but it was deleted before`);
          if (reply !== 'DELETED' && reply !== 'NOT_FOUND') throw new ReplyError(`delete ${keyName(i)}: ${reply}`);
          m.deleted[i] = 1;
          m.uncertain[i] = 0;
          const after = parseValues(await ask('get after delete', `get ${keyName(i)}`)).get(keyName(i)) ?? null;
          checkRead(m, t, i, after, 'get after delete');
        }
      } catch (err) {
        t.addError(`worker ${w}: ${(err as Error).message.split('\n')[0]}`);
        if (c >= 0) m.counterUncertain[c] = 1;
        else m.uncertain[i] = 1;
        // The connection may still owe a reply: start over on a fresh one.
        await client.close().catch(() => undefined);
        if (this.#stopping) return;
        client = await this.#connect();
      }
    }
    await client.close();
  }
}

/**
 * After the load: one more read of every seeded key and counter through memshift, each checked
 * against the model (the expected version, or a miss for a deleted key). Returns the keys read.
 */
export async function finalCheck(cluster: Cluster, load: Load): Promise<{ keys: number; wrong: number }> {
  const client = await TextClient.connect(cluster.memshift.port, cluster.memshift.host);
  const t = load.tally;
  const before = t.wrongTotal;
  for (let start = 0; start < SEED_KEYS; start += 100) {
    const batch = Array.from({ length: Math.min(100, SEED_KEYS - start) }, (_, j) => start + j);
    const values = parseValues(await client.request(`get ${batch.map(keyName).join(' ')}`, REQUEST_TIMEOUT_MS));
    for (const i of batch) checkRead(load.model, t, i, values.get(keyName(i)) ?? null, 'final get');
  }
  const counters = parseValues(await client.request(`get ${Array.from({ length: COUNTERS }, (_, c) => counterName(c)).join(' ')}`, REQUEST_TIMEOUT_MS));
  for (let c = 0; c < COUNTERS; c++) {
    const seen = counters.get(counterName(c));
    if (load.model.counterUncertain[c] === 0 && Number(seen) !== load.model.counter[c]) {
      t.addWrong('wrong counter', `final get ${counterName(c)}: ${seen ?? 'a miss'}, expected ${load.model.counter[c]}`);
    }
  }
  await client.close();
  return { keys: SEED_KEYS + COUNTERS, wrong: t.wrongTotal - before };
}
