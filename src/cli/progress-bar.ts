/**
 * One line of progress for a copy run (sync, migration, the demo): the phase, a bar, the share
 * done and the ETA, then the counts. The copy's share is items walked against the sources'
 * `curr_items`; verify's is keys verified against keys scanned. Redraw it with `\r` on a TTY.
 */
import type { ProgressSnapshot } from '../copy/index.js';

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

export function progressLine(p: ProgressSnapshot): string {
  const c = p.counts;
  let fraction = 0;
  let eta = '';
  if (p.phase === 'copy') {
    fraction = p.expected !== null && p.expected > 0 ? c.walked / p.expected : 0;
    if (p.etaSec !== null) eta = ` ETA ${Math.ceil(p.etaSec)}s`;
  } else if (p.phase === 'verify') {
    fraction = c.scanned > 0 ? (c.verified + c.mismatched) / c.scanned : 1;
  } else if (p.phase === 'sync' || p.phase === 'done') {
    fraction = 1;
  }
  return `${p.phase.padEnd(6)} ${bar(fraction)}${eta} | ${countsLine(p)}`;
}
