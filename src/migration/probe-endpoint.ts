/**
 * POST /migration/probe {"pool"?, "rate"?, "value_bytes"?} (bearer token): the probe of `memshift
 * plan` (src/copy/probe.ts) run inside this sidecar, on the servers of its planned migration, so the
 * rates it measures are the ones the copy will get here: the same process, under the same client
 * load, its event loop watched as a migration's copy watches it. Answers the ProbeResult. Only
 * while the migration is planned (409 once it runs: its copy is the measurement then).
 */
import { AdminHttpError, type AdminEndpoints } from '../admin/index.js';
import { endpointOf } from '../backend/index.js';
import { probeCopy } from '../copy/probe.js';
import type { Migration } from './runtime.js';
import { probeTarget } from './probe-target.js';

/** Probes one sidecar runs at once: a second one waits for none, it is refused. */
let running = false;

export function registerProbe(admin: AdminEndpoints, find: (pool: string | undefined) => Migration): void {
  admin.post('/migration/probe', async (req) => {
    const body = (req.body ?? {}) as { pool?: unknown; rate?: unknown; value_bytes?: unknown };
    const m = find(typeof body.pool === 'string' ? body.pool : undefined);
    const phase = m.status().phase;
    if (phase !== 'planned') throw new AdminHttpError(409, `migration "${m.id}" is ${phase}: a probe is for a planned migration (its own copy is the measurement now)`);
    const part = m.space.parts[0];
    const target = part === undefined || part.gone === true ? null : probeTarget(part.arcs);
    if (target === null) throw new AdminHttpError(409, `migration "${m.id}" moves nothing to copy`);
    const number = (v: unknown, name: string): number | undefined => {
      if (v === undefined) return undefined;
      if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new AdminHttpError(400, `${name} must be a positive number`);
      return v;
    };
    const rate = number(body.rate, 'rate') ?? m.config.rateKeysPerSec;
    const valueBytes = Math.min(1024 * 1024, number(body.value_bytes, 'value_bytes') ?? 100);
    if (running) throw new AdminHttpError(409, 'a probe is already running on this sidecar');
    running = true;
    try {
      const result = await probeCopy({
        sources: target.sources.map(endpointOf),
        target: endpointOf(target.target),
        dumps: target.dumps.map((s) => ({ endpoint: endpointOf(s), filter: target.filter })),
        rateKeysPerSec: rate,
        ...(m.config.rateBytesPerSec === undefined ? {} : { rateBytesPerSec: m.config.rateBytesPerSec }),
        valueBytes,
        watchEventLoop: true,
      });
      return { status: 200, body: result };
    } finally {
      running = false;
    }
  });
}
