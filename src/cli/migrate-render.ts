/**
 * How `memshift migrate` shows a migration: the status table, the one-line `watch` view (cut to the
 * terminal's width), and the history.
 */
import type { MigrationStatus } from '../migration/status.js';
import type { MigrationResult } from '../migration/history.js';
import type { VerifyPassTime } from '../migration/record.js';
import { bar, migrationShare } from './progress-bar.js';
import { table } from './common.js';

const seconds = (s: number | null): string => (s === null ? '-' : s.toFixed(2));

/** The phase, with how far a rollback got. */
function phaseName(s: MigrationStatus): string {
  if (s.phase === null) return 'none';
  return s.phase === 'aborted' ? `aborted (${s.rolled_back ? 'rolled back' : 'rolling back'})` : s.phase;
}

/** The phase, a rollback's state and "(paused)". */
export function phaseLabel(s: MigrationStatus): string {
  return s.paused ? `${phaseName(s)} (paused)` : phaseName(s);
}

/** The share done and what it counts, for the phase. */
export function progressText(s: MigrationStatus): string {
  const c = s.counts;
  const p = s.progress;
  const share = migrationShare(s);
  switch (s.phase) {
    case 'copy': {
      if (share !== null && p !== null && p.phase === 'copy') {
        const eta = p.eta_s === null ? '' : `, ETA ${Math.ceil(p.eta_s)}s`;
        return `${bar(share)} ${p.walked}/${p.expected ?? '?'} keys walked${eta}`;
      }
      return `scanned ${c.scanned}, copied ${c.copied}${p === null ? ' (the leader tracks the share done)' : ''}`;
    }
    case 'verify': {
      if (share === null) return 'waiting for the first verify pass';
      // The leader's run: what this pass checked of what its copy scanned (the counts add up every run).
      const [checked, of] = p !== null && p.phase === 'verify' && p.scanned > 0 ? [p.checked, p.scanned] : [c.verified + c.mismatched, c.scanned];
      return `${bar(share)} ${checked}/${of} keys checked, ${c.mismatched} mismatched`;
    }
    case 'planned':
      return s.waiting ?? 'not started';
    case 'dual_write':
      return 'writes reach the old and the new owners; the copy follows once every sidecar does';
    case 'dual_read':
      return 'reads try the new owner first; verify follows once every sidecar does';
    case 'cutover':
      return 'the new owners serve every moved key';
    case 'cleanup':
      return `deleting moved keys from the old owners: ${c.cleaned} deleted`;
    case 'done':
      return bar(1);
    case 'aborted':
      return s.rolled_back ? 'the old owners serve every key again' : 'writes still reach both owners until every sidecar reads the old ones';
    default:
      return '-';
  }
}

function countsText(s: MigrationStatus): string {
  const c = s.counts;
  return `scanned ${c.scanned} copied ${c.copied} skipped ${c.skipped} verified ${c.verified} mismatched ${c.mismatched} repaired ${c.repaired} backfilled ${c.backfilled} errors ${c.errors} cleaned ${c.cleaned}`;
}

/** The width the `watch` line fits when the terminal's is unknown (a pipe, a log). */
export const WATCH_WIDTH = 80;

/** What the `watch` line says of the progress, from the most to the least said. */
function watchProgress(s: MigrationStatus): string[] {
  const c = s.counts;
  const p = s.progress;
  const bars = (f: number, full: string, eta = ''): string[] => [`${bar(f)} ${full}${eta}`, `${bar(f, 10)} ${full}${eta}`, `${bar(f, 10)}${eta}`];
  switch (s.phase) {
    case 'copy': {
      if (p !== null && p.phase === 'copy' && p.expected !== null && p.expected > 0) {
        return bars(p.walked / p.expected, `${p.walked}/${p.expected} walked`, p.eta_s === null ? '' : `, ETA ${Math.ceil(p.eta_s)}s`);
      }
      return [`scanned ${c.scanned}, copied ${c.copied}`];
    }
    case 'verify':
      if (p !== null && p.phase === 'verify' && p.scanned > 0) return bars(p.checked / p.scanned, `${p.checked}/${p.scanned} checked, ${c.mismatched} mismatched`);
      return c.scanned === 0 ? ['waiting for the first pass'] : bars((c.verified + c.mismatched) / c.scanned, `${c.verified + c.mismatched}/${c.scanned} checked, ${c.mismatched} mismatched`);
    case 'planned':
      return [s.waiting ?? 'not started'];
    case 'dual_write':
      return ['writes reach both owners; the copy follows', 'dual writes'];
    case 'dual_read':
      return ['reads try the new owners; verify follows', 'dual reads'];
    case 'cutover':
      return ['the new owners serve the moved keys', 'cut over'];
    case 'cleanup':
      return [`deleting moved keys from the old owners: ${c.cleaned}`, `${c.cleaned} deleted`];
    case 'done':
      return [bar(1), bar(1, 10)];
    case 'aborted':
      return s.rolled_back ? ['the old owners serve every key again', 'rolled back'] : ['writes reach both owners until all read the old', 'rolling back'];
    default:
      return ['-'];
  }
}

/** `text` cut to `width` with "…" in the middle, so both ends of a long name stay readable. */
function middleCut(text: string, width: number): string {
  if (text.length <= width) return text;
  const head = Math.ceil((width - 1) / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - (width - 1 - head))}`;
}

/**
 * The `watch` line, `pool/id phase progress | counts`, at most `width` columns: the counts shrink to
 * copied and errors, then the progress, then the counts go, then a long pool/id is cut in the
 * middle, and only then is the line cut.
 */
export function watchLine(s: MigrationStatus, width = WATCH_WIDTH): string {
  const c = s.counts;
  const name = `${s.pool}/${s.id}`;
  const label = phaseLabel(s).padEnd(10);
  // What matters most in the phase, when the whole does not fit: what the copy copied, what verify found.
  const short = s.phase === 'copy' ? ` | copied ${c.copied} errors ${c.errors}` : s.phase === 'verify' ? ` | mismatched ${c.mismatched} errors ${c.errors}` : s.phase === 'cleanup' ? ` | errors ${c.errors}` : '';
  const tails = s.phase === 'planned' ? ['', '', ''] : [` | copied ${c.copied} verified ${c.verified} mismatched ${c.mismatched} errors ${c.errors}`, short, ''];
  const progress = watchProgress(s);
  // The full counts only with the full progress; the short ones (copied, errors) before the least progress.
  const tries: [string, string][] = [[progress[0]!, tails[0]!], ...progress.map((p): [string, string] => [p, tails[1]!]), ...progress.map((p): [string, string] => [p, ''])];
  for (const [p, t] of tries) {
    const line = `${name} ${label} ${p}${t}`;
    if (line.length <= width) return line;
  }
  const rest = ` ${label.trimEnd()} ${progress.at(-1)!}`;
  const line = `${middleCut(name, Math.max(12, width - rest.length))}${rest}`;
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`;
}

/** The full status, one labelled row each. */
export function statusText(s: MigrationStatus, others: readonly MigrationStatus[] = []): string {
  const leader = s.leader === null ? 'none yet' : `${s.leader}${s.this_process_leads ? ' (the sidecar answering)' : ''}`;
  const v = s.verify;
  const r = s.route;
  const rows: [string, string][] = [
    ['pool', s.pool],
    ['id', s.id],
    ['phase', phaseName(s)],
    ['paused', s.paused ? 'yes' : 'no'],
    ['leader', leader],
    ['progress', progressText(s)],
    ['counts', countsText(s)],
    ['times', `T_copy ${seconds(s.t_copy_s)} s + T_sync ${seconds(s.t_sync_s)} s + T_verify ${seconds(s.t_verify_s)} s = T_total ${seconds(s.t_total_s)} s`],
    ['cleanup', `T_cleanup ${seconds(s.t_cleanup_s)} s`],
    ['verify', v === null ? '-' : `${v.passes} pass${v.passes === 1 ? '' : 'es'}${passTimesText(v.pass_times)}, ${v.left} left: ${v.note}`],
    ['moved', `${(s.moved_share * 100).toFixed(2)}% of the keyspace`],
    ['route', `backfilled ${r.backfilled} (${r.backfillErrors} failed), sync races ${r.raced}, sync errors ${r.syncErrors}, held ${r.held} (this sidecar)`],
  ];
  const f = s.failover;
  if (f !== undefined) rows.splice(2, 0, ['failover', `${f.server} out of group ${f.group}${f.out === undefined ? '' : `; out before it: ${f.out.map((o) => `${o.server} (${o.group})`).join(', ')}`}`]);
  if (others.length > 0) rows.push(['others', `${others.map((o) => `${o.pool}: ${phaseLabel(o)}`).join(', ')} (pass --pool to show one)`]);
  return table(rows);
}


// ---------------------------------------------------------------- history

/** `2026-11-28T10:00:00.000Z` as `2026-11-28 10:00:00Z`. */
const when = (iso: string | null): string => (iso === null ? '-' : `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`);

/** The history, one row each, newest first. */
export function historyTable(results: readonly MigrationResult[]): string {
  if (results.length === 0) return 'no finished migration, sync or rebuild on record\n';
  const head = ['ENDED', 'KIND', 'POOL', 'ID', 'OUTCOME', 'T_COPY', 'T_SYNC', 'T_VERIFY', 'T_TOTAL', 'CLEANUP', 'COPIED', 'ERRORS'];
  const rows = results.map((r) => [
    when(r.ended_at),
    r.kind,
    r.pool,
    r.id,
    r.outcome,
    seconds(r.t_copy_s),
    seconds(r.t_sync_s),
    seconds(r.t_verify_s),
    seconds(r.t_total_s),
    seconds(r.t_cleanup_s),
    String(r.counts.copied ?? 0),
    String(r.counts.errors ?? 0),
  ]);
  return table([head, ...rows], '', head.map((_, i) => i >= 5));
}

/** One result in full: the servers, every phase switch with its time, the counts and the times. */
export function resultText(r: MigrationResult): string {
  const c = Object.entries(r.counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(' ');
  const rows: [string, string][] = [
    ['pool', r.pool],
    ['id', r.id],
    ['kind', r.kind],
    ['outcome', r.outcome],
    ['from', r.from.join(', ') || '-'],
    ['to', r.to.join(', ') || '-'],
    ['started', when(r.started_at)],
    ['ended', when(r.ended_at)],
    ...r.switches.map((s, i): [string, string] => [i === 0 ? 'switches' : '', `${when(s.at)}  ${s.phase}`]),
    ['counts', c],
    ['times', `T_copy ${seconds(r.t_copy_s)} s + T_sync ${seconds(r.t_sync_s)} s + T_verify ${seconds(r.t_verify_s)} s = T_total ${seconds(r.t_total_s)} s`],
    ['cleanup', `T_cleanup ${seconds(r.t_cleanup_s)} s`],
  ];
  if (r.note !== undefined) rows.push(['note', r.note]);
  if (r.failover !== undefined) rows.splice(4, 0, ['failover', `${r.failover.server} out of group ${r.failover.group}`]);
  return table(rows);
}

/** " (full 71,062 checked + 73,027 swept in 9.93 s; incremental 11,797 in 1.41 s)", or nothing before a run publishes them. */
function passTimesText(times: readonly VerifyPassTime[] | undefined): string {
  if (times === undefined || times.length === 0) return '';
  const n = (x: number): string => x.toLocaleString('en-US');
  return ` (${times.map((p) => `${p.kind} ${n(p.checked)} checked${p.swept > 0 ? ` + ${n(p.swept)} swept` : ''} in ${p.seconds.toFixed(2)} s`).join('; ')})`;
}
