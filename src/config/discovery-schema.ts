/**
 * A pool's (or replica group's) `discovery:` block, its servers from DNS, and a pool's `autopilot:`
 * block, what a change of them does. schema.ts checks where they may stand (`servers` and
 * `discovery` exclude each other); src/discovery resolves the name.
 */
import { isIP, isIPv6 } from 'node:net';
import { z } from 'zod';
import type { AutopilotConfig, DiscoveryConfig } from './types.js';
import { type Parsed, fail, ok, parsePort } from './address.js';
import { addIssue, duration, field, strictMap } from './schema-parts.js';
import { describe, parseDuration } from './units.js';

export const DISCOVERY_DEFAULTS = {
  port: 11211,
  intervalMs: 10_000,
  /** Re-resolving faster than this gains nothing and loads the DNS servers of every sidecar. */
  minIntervalMs: 1_000,
  names: 'hostname',
  migrate: 'approve',
  minStableMs: 30_000,
  maxMovedShare: 0.5,
  rebalance: 'off',
} as const;

/** Letters, digits, `-` and `_` in dot-separated labels, an optional final dot; not an IP address. */
const DNS_NAME = /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;

function dnsName(input: unknown): Parsed<string> {
  if (typeof input !== 'string' || !DNS_NAME.test(input)) return fail(`expected a DNS name such as "memcached.cache.svc.cluster.local" or "_memcache._tcp.memcached.cache.svc.cluster.local", got ${describe(input)}`);
  if (isIP(input) !== 0) return fail(`expected a DNS name, got the address ${describe(input)}; fixed addresses go in servers`);
  return ok(input);
}

/** The DNS server to ask: an IP address with an optional port (node's resolver takes no host name). */
function resolverAddress(input: unknown): Parsed<string> {
  const bad = fail<string>(`expected an IP address with an optional port, such as "10.96.0.10:53" or "[fd00::a]:53", got ${describe(input)}`);
  if (typeof input !== 'string') return bad;
  if (isIP(input) !== 0) return ok(input);
  const m = /^(?:\[([^\]]+)\]|([0-9.]+)):([0-9]+)$/.exec(input);
  const host = m?.[1] ?? m?.[2];
  if (m === null || host === undefined || (m[1] !== undefined ? !isIPv6(host) : isIP(host) !== 4)) return bad;
  const port = parsePort(m[3]);
  return port.ok ? ok(input) : port;
}

function interval(input: unknown): Parsed<number> {
  const r = parseDuration(input);
  if (r.ok && r.value < DISCOVERY_DEFAULTS.minIntervalMs) return fail(`interval must be at least 1s, got ${describe(input)}`);
  return r;
}

function share(input: unknown): Parsed<number> {
  if (typeof input === 'number' && input > 0 && input <= 1) return ok(input);
  return fail(`expected a share of the keys above 0 and at most 1, such as 0.5, got ${describe(input)}`);
}

export const discoverySchema = strictMap({
  dns: field(dnsName),
  // No zod default: an SRV name takes no port.
  port: field((v): Parsed<number> => (typeof v === 'number' ? parsePort(String(v)) : fail(`port must be an integer from 1 to 65535, got ${describe(v)}`))).optional(),
  interval: field(interval).default(DISCOVERY_DEFAULTS.intervalMs),
  names: z.enum(['hostname', 'address']).default(DISCOVERY_DEFAULTS.names),
  resolver: field(resolverAddress).optional(),
}).superRefine((d, ctx) => {
  if (typeof d.dns === 'string' && d.dns.startsWith('_') && d.port !== undefined) {
    addIssue(ctx, ['port'], `SRV records carry the port: remove port, or give a name with A/AAAA records`);
  }
});

export function toDiscovery(d: z.output<typeof discoverySchema>): DiscoveryConfig {
  const srv = d.dns.startsWith('_');
  return {
    dns: d.dns,
    ...(srv ? {} : { port: d.port ?? DISCOVERY_DEFAULTS.port }),
    intervalMs: d.interval,
    names: d.names,
    ...(d.resolver === undefined ? {} : { resolver: d.resolver }),
  };
}

export const autopilotSchema = strictMap({
  migrate: z.enum(['auto', 'approve']).default(DISCOVERY_DEFAULTS.migrate),
  min_stable: duration(0).default(DISCOVERY_DEFAULTS.minStableMs),
  max_moved_share: field(share).default(DISCOVERY_DEFAULTS.maxMovedShare),
  rebalance: z.enum(['off', 'suggest']).default(DISCOVERY_DEFAULTS.rebalance),
});

export function toAutopilot(a: z.output<typeof autopilotSchema>): AutopilotConfig {
  return { migrate: a.migrate, minStableMs: a.min_stable, maxMovedShare: a.max_moved_share, rebalance: a.rebalance };
}

/** A pool with discovery and no autopilot block gets every default. */
export const DEFAULT_AUTOPILOT: AutopilotConfig = Object.freeze(toAutopilot(autopilotSchema.parse({})));

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Where discovery stands in a pool: `discovery` instead of `servers` (or of a group's `servers`),
 * never with a `migration:` block (autopilot starts those) nor with modula, nor, without replica
 * groups, with `failover_after` (the autopilot changes that ring), and `autopilot` only
 * where something is discovered. Runs after schema.ts's own checks of servers and replicas.
 */
export function checkDiscovery(pool: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const groups = Array.isArray(pool.replicas) ? pool.replicas.filter(isRecord) : [];
  const discovered = pool.discovery !== undefined || groups.some((g) => g.discovery !== undefined);
  if (pool.autopilot !== undefined && !discovered) {
    addIssue(ctx, ['autopilot'], 'autopilot acts on discovered servers: give the pool (or its replica groups) a discovery block');
  }
  if (!discovered) return;
  if (pool.migration !== undefined) {
    addIssue(ctx, ['migration'], 'a pool with discovery migrates when its DNS records change (autopilot); a migration block needs a servers list');
  }
  if (pool.discovery !== undefined && pool.failover_after !== undefined) {
    addIssue(ctx, ['failover_after'], 'a pool with discovery and no replica groups takes no failover_after: the autopilot takes its servers out of the ring when they leave DNS (failover_after is for replica groups)');
  }
  if (pool.distribution === 'modula') {
    addIssue(ctx, ['distribution'], 'modula places a key on slot hash % total weight, so a server added or removed by DNS would move nearly every key; use ketama with discovery');
  }
}
