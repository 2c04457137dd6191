/**
 * Every backend connection of the process. A backend that several pools list
 * is connected once per `server_connections`; requests spread over a backend's
 * connections round-robin. Nothing here knows about keys.
 */
import type { Config, PoolConfig } from '../config/types.js';
import { secretFile } from '../config/secret-file.js';
import type { Logger } from '../observability/logger.js';
import { BackendConnection, type BackendState } from './connection.js';

export class Backend {
  #next = 0;
  constructor(
    readonly address: string,
    readonly connections: readonly BackendConnection[],
    /** Its TLS settings and login, as text: a reload that changes them opens new connections. */
    readonly security = '',
  ) {}

  /** The next connection, round-robin (skips connections that are down when another is up). */
  pick(): BackendConnection {
    const conns = this.connections;
    if (conns.length === 1) return conns[0]!;
    for (let i = 0; i < conns.length; i++) {
      const c = conns[this.#next++ % conns.length]!;
      if (c.state === 'up') return c;
    }
    return conns[this.#next++ % conns.length]!;
  }

  get state(): BackendState {
    let best: BackendState = 'tko';
    for (const c of this.connections) {
      if (c.state === 'up') return 'up';
      if (c.state === 'connecting') best = 'connecting';
    }
    return best;
  }

  /** Why it is not up (the reason of its first connection that is not), or null when up. */
  get reason(): string | null {
    if (this.state === 'up') return null;
    return this.connections.find((c) => c.state !== 'up')?.reason ?? null;
  }

  /** Its connections connect again (to `address`, where its DNS name now points; see dial.ts). */
  redial(address: string): void {
    for (const c of this.connections) c.redial(address);
  }

  /** The version the backend reported (every connection to it reports the same). */
  get version(): string | null {
    return this.connections.find((c) => c.version !== null)?.version ?? null;
  }
}

export class BackendPool {
  /** byPool[pool][server]: the first (primary) group's backends. */
  readonly byPool: Backend[][];
  /** byGroup[pool][group][server]: every replica group's backends, in ring order. */
  readonly byGroup: Backend[][][];
  /** byMigration[pool][group][server]: the old servers of the pool's migration, in old ring order. */
  readonly byMigration: (Backend[][] | undefined)[];
  readonly all: Backend[];
  /**
   * Called when a backend comes up (its first connect, a reconnect, or a good probe after TKO).
   * Shared with the pool a reload replaced, whose backends it may keep.
   */
  readonly upListeners: ((backend: Backend) => void)[];
  /** New timeouts and bounds for the connections kept from the previous pool, applied by commit(). */
  private retunes: (() => void)[] = [];

  /**
   * `previous`: the pool of the config a reload replaces; a backend whose address and number of
   * connections stay is kept, with its connections (callers close the ones left over: `unused`).
   */
  constructor(config: Config, pools: readonly PoolConfig[], logger: Logger, previous?: BackendPool) {
    this.upListeners = previous?.upListeners ?? [];
    const byAddress = new Map<string, Backend>();
    const kept = new Map((previous?.all ?? []).map((b) => [b.address, b]));
    const onStateChange = (conn: BackendConnection, from: BackendState, to: BackendState, reason: string): void => {
      const level = to === 'up' ? 'info' : to === 'closed' ? 'debug' : 'warn';
      logger[level]({ backend: conn.address, from, to, reason }, `backend ${conn.address} ${to}`);
      const backend = byAddress.get(conn.address);
      if (to === 'up' && backend !== undefined) for (const l of this.upListeners) l(backend);
    };
    // One reader per password file (read at start: a file that cannot be read stops it; re-read when it changes).
    const passwords = new Map<string, () => string>();
    const passwordOf = (file: string): (() => string) => {
      let read = passwords.get(file);
      if (read === undefined) {
        read = secretFile(file, (err) => logger.error({ err: err.message }, `auth password_file ${file} changed but cannot be read: the password read before stays`));
        passwords.set(file, read);
      }
      return read;
    };
    const connect = (pool: PoolConfig, server: PoolConfig['servers'][number]): Backend => {
      let b = byAddress.get(server.address);
      if (b) return b;
      const settings = {
        timeoutMs: pool.timeoutMs,
        connectTimeoutMs: config.backend.connectTimeoutMs,
        failureLimit: config.backend.failureLimit,
        probeMinMs: config.backend.probeMinMs,
        probeMaxMs: config.backend.probeMaxMs,
        maxPending: config.limits.maxPendingPerBackend,
        maxReplyBytes: config.limits.maxReplyBytes,
        maxQueuedBytes: config.limits.maxQueuedBytesPerBackend,
        ...(server.tls === undefined ? {} : { tls: server.tls }),
        ...(server.auth === undefined ? {} : { auth: { username: server.auth.username, password: passwordOf(server.auth.passwordFile) } }),
      };
      // A reload keeps the backend (and its connections) when it keeps its number of connections,
      // its TLS settings and its login; new timeouts and bounds apply to it in place once the
      // reload succeeded (commit()). Other TLS settings or login: new connections, the old ones
      // closed with the generation they served.
      const security = JSON.stringify([server.tls ?? null, server.auth ?? null]);
      const old = kept.get(server.address);
      if (old !== undefined && old.connections.length === pool.connections && old.security === security) {
        for (const c of old.connections) this.retunes.push(() => c.retune(settings));
        byAddress.set(server.address, old);
        return old;
      }
      const conns: BackendConnection[] = [];
      for (let i = 0; i < pool.connections; i++) conns.push(new BackendConnection({ host: server.host, port: server.port, ...settings, onStateChange }));
      b = new Backend(server.address, conns, security);
      byAddress.set(server.address, b);
      return b;
    };
    try {
      this.byGroup = pools.map((pool) => pool.groups.map((group) => group.servers.map((server) => connect(pool, server))));
      // The old servers of a migration: one backend per address, shared with the new ring's.
      this.byMigration = pools.map((pool) => pool.migration?.from.map((group) => group.servers.map((server) => connect(pool, server))));
    } catch (err) {
      // A password file that cannot be read: the connections opened so far (not those kept) close.
      for (const b of byAddress.values()) if (b !== kept.get(b.address)) for (const c of b.connections) c.close();
      throw err;
    }
    this.byPool = this.byGroup.map((groups) => groups[0]!);
    this.all = [...byAddress.values()];
  }

  /** Applies the new settings to the connections kept from the previous pool (a reload that succeeded). */
  commit(): void {
    for (const retune of this.retunes) retune();
    this.retunes = [];
  }

  /** Backends of this pool that `next` (the pool after a reload) does not keep. */
  unused(next: BackendPool): Backend[] {
    const keep = new Set(next.all);
    return this.all.filter((b) => !keep.has(b));
  }

  close(backends: readonly Backend[] = this.all): void {
    for (const b of backends) for (const c of b.connections) c.close();
  }
}
