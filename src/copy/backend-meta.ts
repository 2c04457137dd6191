/**
 * The copy engine's meta operations (mg, ms, md) over the proxy's own backend connections, so a
 * migration's backfill and sync and a replica's replay use the same CAS-guarded steps as the
 * background copy (copier.ts) without a connection of their own. A failed or refused request rejects, as MetaClient's do.
 */
import { backendRequest, type Backend } from '../backend/index.js';
import { ReplyKind, parseMetaReply, type MetaReply } from '../protocol/index.js';
import type { MetaOps } from './copier.js';
import { metaRequest } from './meta-client.js';

export class BackendMeta implements MetaOps {
  static readonly #cache = new WeakMap<Backend, BackendMeta>();

  /** The one (stateless) BackendMeta of `backend`, made on first use. */
  static of(backend: Backend): BackendMeta {
    let m = BackendMeta.#cache.get(backend);
    if (m === undefined) BackendMeta.#cache.set(backend, (m = new BackendMeta(backend)));
    return m;
  }

  constructor(readonly backend: Backend) {}

  async #meta(cmd: string, key: Buffer, flags: string, value: Buffer | null): Promise<MetaReply> {
    const reply = await backendRequest(this.backend, Buffer.concat(metaRequest(cmd, key, flags, value)), ReplyKind.Meta);
    if (reply === null) throw new Error(`${this.backend.address}: ${cmd} failed`);
    const parsed = parseMetaReply(reply);
    if (parsed.status.endsWith('ERROR')) throw new Error(`${this.backend.address}: ${reply.toString('latin1').trim()}`);
    return parsed;
  }

  mg(key: Buffer, flags: string): Promise<MetaReply> {
    return this.#meta('mg', key, flags, null);
  }

  ms(key: Buffer, value: Buffer, flags: string): Promise<MetaReply> {
    return this.#meta('ms', key, flags, value);
  }

  md(key: Buffer, flags: string): Promise<MetaReply> {
    return this.#meta('md', key, flags, null);
  }
}
