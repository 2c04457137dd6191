/**
 * One line of progress for a copy run (sync, migration, the demo): the phase, a bar, the share
 * done and the ETA, then the counts. The copy's share is items walked against the sources'
 * `curr_items`; verify's is keys verified against keys scanned. Redraw it with `\r` on a TTY.
 */
import type { ProgressSnapshot } from '../copy/index.js';
import type { MigrationStatus } from '../migration/status.js';

const WIDTH = 24;

export function bar(fraction: number, width = WIDTH): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${String(Math.floor(f * 100)).padStart(3)}%`;
}

/** The counts, as in the final report. */
export function countsLine(p: ProgressSnapshot): string {
  const c = p.counts;
  return `scanned ${c.scanned} copied ${c.copied} skipped ${c.skipped} verified ${c.verified} mismatched ${c.mismatched} repaired ${c.repaired} errors ${c.errors}`;
}

/** A copy run's share done: copy walks against the expected items, verify checks against the scanned keys. */
export function snapshotShare(p: ProgressSnapshot): number {
  const c = p.counts;
  if (p.phase === 'copy') return p.expected !== null && p.expected > 0 ? c.walked / p.expected : 0;
  if (p.phase === 'verify') return c.scanned > 0 ? (c.verified + c.mismatched) / c.scanned : 1;
  return p.phase === 'sync' || p.phase === 'done' ? 1 : 0;
}

/** " ETA 12s" while copying with a known rate, else "". */
export function etaText(p: ProgressSnapshot): string {
  return p.phase === 'copy' && p.etaSec !== null ? ` ETA ${Math.ceil(p.etaSec)}s` : '';
}

export function progressLine(p: ProgressSnapshot): string {
  return `${p.phase.padEnd(6)} ${bar(snapshotShare(p))}${etaText(p)} | ${countsLine(p)}`;
}

/**
 * A migration's share done for its bar (watch and top alike): copy walks against the expected items;
 * verify, the leader's current pass (what it checked of what its copy scanned), else the counts
 * (checked against scanned, over every run); null in a phase without one.
 */
export function migrationShare(s: Pick<MigrationStatus, 'phase' | 'progress' | 'counts'>): number | null {
  const p = s.progress;
  const c = s.counts;
  if (s.phase === 'copy') return p !== null && p.phase === 'copy' && p.expected !== null && p.expected > 0 ? p.walked / p.expected : null;
  if (s.phase === 'verify') {
    if (p !== null && p.phase === 'verify' && p.scanned > 0) return p.checked / p.scanned;
    return c.scanned > 0 ? (c.verified + c.mismatched) / c.scanned : null;
  }
  return s.phase === 'done' ? 1 : null;
}
