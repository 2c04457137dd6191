/**
 * `memshift plan`'s time estimate: the numbers the model (src/migration/estimate.ts) needs, gathered
 * from the plan reports (items moved from each old owner to each new one), the migration's settings
 * and a probe of the real servers (src/copy/probe.ts), and the text that shows the estimate with
 * what each term rests on.
 */
import { endpointOf } from '../backend/index.js';
import type { PoolConfig, ServerSpec } from '../config/types.js';
import { DEFAULTS } from '../config/schema.js';
import { probeCopy, type ProbeResult } from '../copy/probe.js';
import { estimateMigration, type EstimatePart, type EstimateServer, type MeasuredRates, type MigrationEstimate, type PhaseEstimate } from '../migration/estimate.js';
import { movedArcs, statNumber, type PlanReport, type ServerStats } from '../migration/plan.js';
import { probeTarget } from '../migration/probe-target.js';
import { adminCall, type AdminTarget } from './admin-client.js';

/** Per-item memory `bytes` counts beyond the value (item header, key, CAS): taken off the mean for the probe's values. */
const ITEM_OVERHEAD = 64;
/** How long a sidecar may take to probe (it takes 2-3 s; longer under load). */
const SIDECAR_PROBE_TIMEOUT_MS = 15_000;

export interface EstimateContext {
  readonly pool: PoolConfig;
  /** The old and new server lists of each report, in report order. */
  readonly moves: readonly { readonly from: readonly ServerSpec[]; readonly to: readonly ServerSpec[] }[];
  readonly reports: readonly PlanReport[];
  /** `stats` of every server involved, by address (null: no answer). */
  readonly stats: ReadonlyMap<string, ServerStats>;
  readonly rateKeysPerSec: number;
  readonly probe: boolean;
  /** The sidecar's admin API, to probe from there; null: probe from this process. */
  readonly sidecar: AdminTarget | null;
}

export interface PlanEstimate {
  readonly estimate: MigrationEstimate | null;
  readonly probe: ProbeResult | null;
  /** Why there is no estimate, or what the probe could not measure. */
  readonly notes: readonly string[];
}

const settingsOf = (pool: PoolConfig): { copy: 'eager' | 'lazy'; cleanup: boolean; settleMs: number; rateBytesPerSec?: number } => {
  const m = pool.migration;
  const d = DEFAULTS.migration;
  return {
    copy: m?.copy ?? d.copy,
    cleanup: m?.cleanup ?? d.cleanup,
    settleMs: m?.settleMs ?? d.settleMs,
    ...(m?.rateBytesPerSec === undefined ? {} : { rateBytesPerSec: m.rateBytesPerSec }),
  };
};

/** The parts the model walks: each report's old owners that lose keys and new owners that gain them. */
function partsOf(ctx: EstimateContext): EstimatePart[] | null {
  const parts: EstimatePart[] = [];
  for (const r of ctx.reports) {
    if (r.items === null) return null;
    const lose = new Map<string, number>();
    const gain = new Map<string, number>();
    for (const m of r.moves) {
      lose.set(m.from, (lose.get(m.from) ?? 0) + (m.items ?? 0));
      gain.set(m.to, (gain.get(m.to) ?? 0) + (m.items ?? 0));
    }
    const server = (address: string, moved: number): EstimateServer => ({ address, items: statNumber(ctx.stats.get(address) ?? undefined, 'curr_items') ?? 0, moved });
    parts.push({ sources: [...lose].map(([a, n]) => server(a, n)), gaining: [...gain].map(([a, n]) => server(a, n)) });
  }
  return parts;
}

/** Mean bytes per item on the old owners that lose keys; null when unknown. */
function meanItemBytes(parts: readonly EstimatePart[], stats: ReadonlyMap<string, ServerStats>): number | null {
  let items = 0;
  let bytes = 0;
  for (const s of parts.flatMap((p) => p.sources)) {
    const b = statNumber(stats.get(s.address) ?? undefined, 'bytes');
    if (b === null) return null;
    items += s.items;
    bytes += b;
  }
  return items > 0 ? bytes / items : null;
}

function measuredOf(p: ProbeResult): MeasuredRates {
  const dump = new Map<string, number>();
  for (const d of p.dumps) if (d.linesPerSec !== null) dump.set(d.server, d.linesPerSec);
  const starts = p.dumps.filter((d) => d.error === undefined && d.listed > 0).map((d) => d.startSeconds);
  return {
    dumpLinesPerSec: dump,
    dumpStartSeconds: starts.length === 0 ? 0 : starts.reduce((a, b) => a + b, 0) / starts.length,
    copy: p.copy.perSec,
    verify: p.verify.perSec,
    sweep: p.sweep.perSec,
    reconcile: p.reconcile.perSec,
    delete: p.delete.perSec,
    clientWritesPerSec: p.clientWritesPerSec,
    newItemsPerSec: new Map((p.newItems ?? []).map((n) => [n.server, n.perSec])),
    probeSeconds: p.seconds,
  };
}

/** Where the probe runs: a sidecar's admin API (its planned migration, under its client load), else this process. */
async function runProbe(ctx: EstimateContext, valueBytes: number, notes: string[]): Promise<ProbeResult | null> {
  const move = ctx.moves[0];
  const target = move === undefined ? null : probeTarget(movedArcs(ctx.pool, move.from, move.to));
  if (target === null) return null;
  let probe: ProbeResult | null = null;
  if (ctx.sidecar !== null) {
    try {
      probe = (await adminCall(ctx.sidecar, 'POST', '/migration/probe', { pool: ctx.pool.name, rate: ctx.rateKeysPerSec, value_bytes: valueBytes }, undefined, [], SIDECAR_PROBE_TIMEOUT_MS)) as ProbeResult;
      notes.push(`probed by the sidecar at ${ctx.sidecar.base} (POST /migration/probe: its process, under its client load)`);
    } catch (err) {
      notes.push(`the sidecar could not probe (${err instanceof Error ? err.message : String(err)}); probed from this process instead: a sidecar busy with clients copies slower`);
    }
  }
  if (probe === null) {
    try {
      probe = await probeCopy({
        sources: target.sources.map(endpointOf),
        target: endpointOf(target.target),
        dumps: target.dumps.map((s) => ({ endpoint: endpointOf(s), filter: target.filter })),
        rateKeysPerSec: ctx.rateKeysPerSec,
        ...(ctx.pool.migration?.rateBytesPerSec === undefined ? {} : { rateBytesPerSec: ctx.pool.migration.rateBytesPerSec }),
        valueBytes,
      });
      if (ctx.sidecar === null) notes.push('probed from this process (no sidecar admin API to probe from: a sidecar busy with clients copies slower)');
    } catch (err) {
      notes.push(`probe failed (${err instanceof Error ? err.message : String(err)}); the estimate rests on the rate limit only`);
      return null;
    }
  }
  for (const d of probe.dumps) if (d.error !== undefined) notes.push(`probe: the metadump of ${d.server} failed (${d.error})`);
  for (const [name, s] of [['copy', probe.copy], ['verify', probe.verify], ['sweep', probe.sweep], ['reconcile', probe.reconcile], ['delete', probe.delete]] as const) {
    if (s.perSec === null) notes.push(`probe: no key got through the ${name} step (${s.errors} errors); it is estimated at the rate limit`);
  }
  return probe;
}

export async function planEstimate(ctx: EstimateContext): Promise<PlanEstimate> {
  const notes: string[] = [];
  const parts = partsOf(ctx);
  if (parts === null) return { estimate: null, probe: null, notes: ['no estimate: a server with moving keys gave no stats'] };
  const mean = meanItemBytes(parts, ctx.stats);
  const valueBytes = mean === null ? null : Math.max(1, mean - ITEM_OVERHEAD);
  const probe = ctx.probe && parts.some((p) => p.sources.some((s) => s.moved > 0)) ? await runProbe(ctx, valueBytes ?? 100, notes) : null;
  const settings = settingsOf(ctx.pool);
  const movedShare = ctx.reports.reduce((t, r) => t + r.movedShare, 0) / Math.max(1, ctx.reports.length);
  const estimate = estimateMigration({ parts, ...settings, rateKeysPerSec: ctx.rateKeysPerSec, valueBytes, movedShare, measured: probe === null ? null : measuredOf(probe) });
  return { estimate, probe, notes };
}

// ---- text ----

const sec = (s: number | null): string => (s === null ? '-' : `${s.toFixed(2)} s`);

function phaseLines(name: string, p: PhaseEstimate | null): string[] {
  if (p === null) return [`    ${name.padEnd(9)} -\n`];
  return [`    ${name.padEnd(9)} ${sec(p.seconds)}\n`, ...p.terms.map((t) => `      ${sec(t.seconds).padStart(9)}  ${t.what}\n`)];
}

export function formatEstimate(e: PlanEstimate): string {
  const out: string[] = [];
  const x = e.estimate;
  if (x === null) return e.notes.map((n) => `  ${n}\n`).join('');
  out.push(`  est. T_copy ${sec(x.t_copy_s)} + T_sync ${sec(x.t_sync_s)} + T_verify ${sec(x.t_verify_s)} = T_total ${sec(x.t_total_s)}; T_cleanup ${sec(x.t_cleanup_s)}\n`);
  out.push('  the estimate, phase by phase (the whole migration):\n');
  out.push(...phaseLines('T_copy', x.phases.copy), ...phaseLines('T_sync', x.phases.sync), ...phaseLines('T_verify', x.phases.verify), ...phaseLines('T_cleanup', x.phases.cleanup));
  out.push('  it rests on:\n', ...x.restsOn.map((l) => `    ${l}\n`));
  if (e.probe !== null) out.push(`    probe: ${e.probe.source} -> ${e.probe.target}, ${e.probe.write.keys} keys of ${e.probe.valueBytes} bytes under __memshift__:probe:, deleted after\n`);
  out.push(...e.notes.map((n) => `    ${n}\n`));
  return out.join('');
}
