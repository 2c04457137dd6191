/** The migration bench's table: medians per kind of run, the ratios, and each round's times and estimate comparison. */
import { formatComparison } from './estimate-check.js';
import { LABEL, type MigrationBenchOptions, type RoundResult, type RunKind, type RunSample } from './migration-result.js';
import { median, type TargetSummary } from './report.js';

export const secs = (n: number | null | undefined, digits = 1): string => (n === null || n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits));

/** A kind of run's medians, as the main bench's per target. */
export interface KindSummary extends Omit<TargetSummary, 'target'> {
  readonly kind: RunKind;
}

export function summarizeKinds(samples: readonly RunSample[]): KindSummary[] {
  return (['no_migration', 'migration'] as const).map((kind) => {
    const mine = samples.filter((s) => s.kind === kind);
    const med = (f: (s: RunSample) => number): number => median(mine.map(f));
    return { kind, runs: mine.length, tps: med((s) => s.tps), avgUs: med((s) => s.avgUs), p99Us: med((s) => s.p99Us), maxUs: med((s) => s.maxUs), getMisses: mine.reduce((a, s) => a + s.getMisses, 0) };
  });
}

/** During-migration medians over no-migration medians; null without both. */
export function migrationRatios(summaries: readonly KindSummary[]): { tps: number; avgLatency: number; p99Latency: number } | null {
  const base = summaries.find((s) => s.kind === 'no_migration' && s.runs > 0);
  const mig = summaries.find((s) => s.kind === 'migration' && s.runs > 0);
  if (base === undefined || mig === undefined) return null;
  return { tps: mig.tps / base.tps, avgLatency: mig.avgUs / base.avgUs, p99Latency: mig.p99Us / base.p99Us };
}

const num = (n: number, digits = 0): string => (Number.isNaN(n) ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const x = (n: number | undefined): string => (n !== undefined && Number.isFinite(n) ? `x${n.toFixed(2)}` : '-');

function table(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

export function formatMigrationReport(opts: MigrationBenchOptions, rounds: readonly RoundResult[]): string {
  const samples = rounds.flatMap((r) => r.samples);
  const summary = summarizeKinds(samples);
  const ratio = migrationRatios(summary);
  const rates = [...new Set(rounds.map((r) => r.rateKeysPerSec))].map((n) => n.toLocaleString('en-US')).join('/');
  const out = [
    `Online migration [A,B] -> [A,B,C] (copy eager, rate ${rates} keys/s${opts.rate === null ? ' (auto)' : ''}, settle ${opts.settleMs} ms, cleanup), ${opts.keys.toLocaleString('en-US')} keys preloaded`,
    `${opts.rounds} round(s) × ${opts.durationS}s, memcaslap -T ${opts.threads} -c ${opts.concurrency} -X 100 (9:1 get:set) through memshift; fresh servers every round`,
    '',
    ...table(
      ['run', 'runs', 'median TPS', 'avg µs', 'p99≈ µs', 'max µs', 'get_misses'],
      summary.map((s) => [LABEL[s.kind], String(s.runs), num(s.tps), num(s.avgUs), num(s.p99Us), num(s.maxUs), num(s.getMisses)]),
    ),
    '',
    `during migration vs no migration  TPS ${x(ratio?.tps)}   avg latency ${x(ratio?.avgLatency)}   p99≈ latency ${x(ratio?.p99Latency)}`,
    '',
  ];
  const rows = rounds.map((r) => {
    const base = r.samples.find((s) => s.kind === 'no_migration');
    const mig = r.samples.find((s) => s.kind === 'migration');
    const st = r.status;
    const when = r.doneS === null || r.loadS === null ? '-' : r.doneS <= r.loadS ? `${(r.loadS - r.doneS).toFixed(1)} s early` : `${(r.doneS - r.loadS).toFixed(1)} s late`;
    return [
      String(r.round),
      r.order[0] === 'no_migration' ? 'none first' : 'migr first',
      base !== undefined && mig !== undefined ? x(mig.tps / base.tps) : '-',
      base !== undefined && mig !== undefined ? x(mig.p99Us / base.p99Us) : '-',
      secs(st?.t_copy_s),
      secs(st?.t_sync_s),
      secs(st?.t_verify_s),
      secs(st?.t_total_s),
      secs(st?.t_cleanup_s),
      st?.counts?.['scanned'] === undefined ? '-' : num(st.counts['scanned']),
      r.copyKeysPerSec === null ? '-' : num(r.copyKeysPerSec),
      r.beganS === null ? '-' : `${r.beganS >= 0 ? '+' : ''}${r.beganS.toFixed(1)}`,
      r.doneS === null ? '-' : r.doneS.toFixed(1),
      r.loadS === null ? '-' : r.loadS.toFixed(1),
      when,
      r.activeShare === null ? '-' : `${Math.round(r.activeShare * 100)}%`,
      r.error !== undefined && st?.phase !== 'done' ? 'FAILED' : (st?.phase ?? '-'),
    ];
  });
  for (const r of rounds) {
    if (r.comparison === null) continue;
    out.push(`round ${r.round}: memshift plan's estimate (probed under the lead load, just before migrate start) against the measured times`, formatComparison(r.comparison), '');
  }
  out.push(
    ...table(['round', 'order', 'TPS ratio', 'p99≈ ratio', 'T_copy s', 'T_sync s', 'T_verify s', 'T_total s', 'cleanup s', 'moved', 'copy keys/s', 'began s', 'done s', 'load s', 'finished', 'active', 'phase'], rows),
    '',
    'Medians over the rounds; the ratios are during-migration / no-migration (TPS below 1 and latency above 1',
    'mean the migration costs the foreground that much). Latency is memaslap\'s "Total" (get+set) in µs; p99≈ is',
    'read from its log2 histogram (within a factor 2). T_copy/T_sync/T_verify/T_total and cleanup are the',
    'migration\'s own (GET /migration). "moved" is the keys the copy went through, "copy keys/s" their rate over',
    'T_copy less the first settle (well below the configured rate: this machine, not the limit, set the pace).',
    '"began"/"done" are seconds after the migration run\'s load started; "finished" compares done with the end',
    'of the measured load (early: the rest of it ran on the new ring; late: the migration ended under a trailing',
    'load that is not measured, so that it runs under load throughout, as plan\'s probe did);',
    '"active" is the share of the load the migration ran under. memcaslap uses its own keys, not the preloaded',
    'ones, so about a third of its keys are moved keys too and take the dual-write/dual-read paths: that is intended.',
  );
  return out.join('\n');
}
