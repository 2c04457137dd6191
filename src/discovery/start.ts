/**
 * A discovered pool's servers at start: its DNS name is resolved before the ring is built, and a
 * sidecar never serves a pool with no servers. When the name gives no usable answer (a DNS error,
 * zero records, an ambiguous answer), it is asked again every second for `waitMs` (a Service whose
 * pods are still starting, a DNS server still coming up); then the start fails with MS_ERR_DISCOVERY
 * naming the name and the last reason, and the process exits 69 for its supervisor to restart it
 * (Kubernetes backs off and says why), as a memcached client that cannot resolve its servers fails.
 */
import type { Resolver } from 'node:dns/promises';
import type { DiscoveryConfig } from '../config/types.js';
import { MemshiftError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { resolveServers, type Resolution } from './resolve.js';

/** How long a start waits for a usable DNS answer (MEMSHIFT_DISCOVERY_START_WAIT_MS overrides it, for tests). */
export const START_WAIT_MS = Number(process.env.MEMSHIFT_DISCOVERY_START_WAIT_MS ?? 30_000) || 30_000;
const RETRY_MS = 1_000;

/** Resolves `target` until an answer is usable or `waitMs` passed; rejects with MS_ERR_DISCOVERY. `where` names the pool (and group) in messages. */
export async function resolveAtStart(target: DiscoveryConfig, resolver: Resolver, where: string, log?: Logger, waitMs = START_WAIT_MS): Promise<Resolution> {
  const deadline = Date.now() + waitMs;
  let logged: string | undefined;
  for (;;) {
    let reason: string;
    try {
      return await resolveServers(target, resolver);
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() + RETRY_MS > deadline) {
      throw new MemshiftError(
        'MS_ERR_DISCOVERY',
        `${where}: DNS name ${target.dns} gave no usable servers within ${Math.round(waitMs / 1000)} s (${reason}); memshift does not serve a pool with no servers`,
        { details: { dns: target.dns, reason } },
      );
    }
    if (reason !== logged) log?.warn({ dns: target.dns, error: reason }, `${where}: DNS name ${target.dns} gives no usable servers yet; asking again every second`);
    logged = reason;
    await new Promise((r) => setTimeout(r, RETRY_MS));
  }
}
