/**
 * A memshift caught while it starts: its pool has a migration block and none of its memcached
 * servers answers (SIGSTOP), so joining the migration waits for the record (up to 10 s) and the
 * generation is not built yet. Its listeners are bound: connections wait, the admin API answers
 * 503. `release()` lets the servers answer, and the start completes.
 */
import { stringify } from 'yaml';
import { freePort, startMemcached, startMemshift, type MemshiftHandle, type ServerHandle } from './harness.js';

export interface StartingMemshift {
  readonly proxy: MemshiftHandle;
  readonly servers: readonly ServerHandle[];
  /** The client listener's port. */
  readonly port: number;
  /** The admin listener's port. */
  readonly admin: number;
  /** Resumes the servers (again is harmless). */
  release(): void;
}

/** `adminHost`: where the admin API listens (default 127.0.0.1; 0.0.0.0 is reached on loopback). */
export async function startMemshiftStillStarting(adminHost = '127.0.0.1'): Promise<StartingMemshift> {
  const servers = await Promise.all([startMemcached(), startMemcached()]);
  const [port, admin] = [await freePort(), await freePort()];
  const yaml = stringify({
    listen: [`127.0.0.1:${port}`],
    admin: { listen: `${adminHost}:${admin}` },
    pools: { main: { servers: servers.map((s) => `${s.address}:1`), timeout: 1000, migration: { id: 'wait-for-me', from: [`${servers[0]!.address}:1`] } } },
  });
  for (const s of servers) s.pause();
  const release = (): void => {
    for (const s of servers) s.resume();
  };
  try {
    return { proxy: await startMemshift(yaml, { untilStarted: false }), servers, port, admin, release };
  } catch (err) {
    release();
    throw err;
  }
}
