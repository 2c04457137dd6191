/**
 * `memshift top`'s frame as lines of text (pure): a summary, any migration or replica sync with its
 * bar and ETA, then one row per backend under its pool (and replica group, when the pool has several),
 * the pool's row adding up its backends. Every line fits `width` columns: the least useful columns
 * go (QUEUED, INFL, P50ms, ERR/S) until the server column has SERVER_MIN, then that column takes
 * what is left, an address cut in its middle; any other line too long is cut with "…". A backend
 * that is not up has its reason on the line below it. With `height`, the backend rows are cut to
 * fit, saying how many were left out.
 *
 *   memshift top  http://127.0.0.1:9121  every 1s  13:01:02
 *   clients 12  get 1234/s  hit 93.1%  set 120/s  backend errors 0/s
 *   SERVER              STATE  OPS/S  HIT%  P50ms  P99ms  ERR/S  INFL QUEUED
 *   main                        1234  93.1                    0
 *     127.0.0.1:11211   up       617  93.0   0.21   1.80      0     3     0B
 */
import type { MigrationStatus } from '../migration/status.js';
import { bar, etaText, migrationShare, snapshotShare } from './progress-bar.js';
import { phaseLabel } from './migrate.js';
import type { BackendRow, PoolView, SyncView, TopView } from './top-view.js';

export const ELLIPSIS = '…';

/** `text` cut to `width` columns, ending in "…" when cut; unchanged when it fits or width is undefined. */
export function fit(text: string, width: number | undefined): string {
  if (width === undefined || text.length <= width) return text;
  if (width <= 0) return '';
  return `${text.slice(0, width - 1)}${ELLIPSIS}`;
}

/**
 * `text` cut to `width` in its middle, keeping its indent, more of its end (a server's port tells
 * backends apart better than its host's first bytes): `  127…1:11211`.
 */
export function fitMiddle(text: string, width: number): string {
  if (text.length <= width) return text;
  const indent = /^ */.exec(text)![0];
  const label = text.slice(indent.length);
  const room = width - indent.length - 1;
  if (room < 2) return fit(text, width);
  const head = Math.floor(room * 0.35);
  return `${indent}${label.slice(0, head)}${ELLIPSIS}${label.slice(label.length - (room - head))}`;
}

interface Column {
  readonly title: string;
  readonly width: number;
  /** Dropped first when the line does not fit: higher drops earlier; 0 never. */
  readonly drop: number;
  /** Left-aligned (text); numbers are right-aligned. */
  readonly left?: boolean;
  readonly cell: (r: Cells) => string;
}

/** What a row shows, already formatted. */
interface Cells {
  state: string;
  ops: string;
  hit: string;
  p50: string;
  p99: string;
  err: string;
  infl: string;
  queued: string;
}

const COLUMNS: readonly Column[] = [
  { title: 'STATE', width: 6, drop: 0, left: true, cell: (c) => c.state },
  { title: 'OPS/S', width: 7, drop: 0, cell: (c) => c.ops },
  { title: 'HIT%', width: 5, drop: 0, cell: (c) => c.hit },
  { title: 'P50ms', width: 6, drop: 2, cell: (c) => c.p50 },
  { title: 'P99ms', width: 6, drop: 0, cell: (c) => c.p99 },
  { title: 'ERR/S', width: 6, drop: 1, cell: (c) => c.err },
  { title: 'INFL', width: 5, drop: 3, cell: (c) => c.infl },
  { title: 'QUEUED', width: 6, drop: 4, cell: (c) => c.queued },
];
const SERVER_MIN = 16;

/** A rate: "-" when unknown, whole numbers from 10 on, "12.3k" and "1.2M" when large. */
export function formatRate(v: number | null): string {
  if (v === null) return '-';
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  if (v >= 10 || Number.isInteger(v)) return String(Math.round(v));
  return v.toFixed(1);
}

export function formatPercent(r: number | null): string {
  return r === null ? '-' : (r * 100).toFixed(1);
}

export function formatMs(ms: number | null): string {
  if (ms === null) return '-';
  if (ms >= 100) return String(Math.round(ms));
  return ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

/** Bytes as memcached's sizes are written: 0B, 512B, 1.5K, 12M. */
export function formatBytes(n: number): string {
  const units = ['B', 'K', 'M', 'G'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 || v >= 10 ? Math.round(v) : v.toFixed(1)}${units[u]}`;
}

/** The state column: up, conn(ecting), tko, closed; out (a failover took it out), recov(ering). */
export function stateLabel(r: BackendRow): string {
  if (r.out) return 'out';
  if (r.state === 'up' && r.recovering) return 'recov';
  return r.state === 'connecting' ? 'conn' : r.state;
}

function cells(r: BackendRow): Cells {
  return {
    state: stateLabel(r),
    ops: formatRate(r.ops_per_s),
    hit: formatPercent(r.hit_ratio),
    p50: formatMs(r.p50_ms),
    p99: formatMs(r.p99_ms),
    err: formatRate(r.errors_per_s),
    infl: String(r.in_flight),
    queued: formatBytes(r.queued_bytes),
  };
}

function poolCells(p: PoolView): Cells {
  return { state: '', ops: formatRate(p.ops_per_s), hit: formatPercent(p.hit_ratio), p50: '', p99: '', err: formatRate(p.errors_per_s), infl: '', queued: '' };
}

/** The columns kept for `width` and the server column's width. */
function columnsFor(width: number | undefined, serverWanted: number): { columns: Column[]; server: number } {
  let columns = [...COLUMNS];
  const rest = (): number => columns.reduce((n, c) => n + 1 + c.width, 0);
  if (width === undefined) return { columns, server: serverWanted };
  while (width - rest() < SERVER_MIN) {
    const drop = columns.reduce<Column | undefined>((worst, c) => (c.drop > (worst?.drop ?? 0) ? c : worst), undefined);
    if (drop === undefined) break;
    columns = columns.filter((c) => c !== drop);
  }
  return { columns, server: Math.max(1, Math.min(serverWanted, width - rest())) };
}

function line(server: string, c: Cells | null, columns: readonly Column[], serverWidth: number, width: number | undefined): string {
  const cellsText = columns
    .map((col) => {
      const text = c === null ? col.title : col.cell(c);
      return col.left === true ? text.padEnd(col.width) : text.padStart(col.width);
    })
    .join(' ');
  return fit(`${fitMiddle(server, serverWidth).padEnd(serverWidth)} ${cellsText}`.trimEnd(), width);
}

/** A migration in one line, what matters first (a narrow terminal cuts the end): phase, bar, ETA, counts. */
export function migrationLine(m: MigrationStatus): string {
  const share = migrationShare(m);
  const eta = m.phase === 'copy' && m.progress !== null && m.progress.eta_s !== null ? ` ETA ${Math.ceil(m.progress.eta_s)}s` : '';
  const c = m.counts;
  return `migration ${m.pool}/${m.id} ${phaseLabel(m)}${share === null ? '' : ` ${bar(share, 16)}`}${eta} | copied ${c.copied} verified ${c.verified} mismatched ${c.mismatched} errors ${c.errors}`;
}

/** A replica rebuild in one line: phase, bar, ETA, counts ("following" when another memshift copies). */
export function syncLine(s: SyncView): string {
  const what = `sync ${s.pool}/${s.group} ${s.address}${s.sync.role === 'follower' ? ' (following)' : ''}`;
  const p = s.sync.progress;
  if (p === null) return `${what} starting`;
  const c = p.counts;
  return `${what} ${p.phase} ${bar(snapshotShare(p), 16)}${etaText(p)} | copied ${c.copied} verified ${c.verified} mismatched ${c.mismatched} errors ${c.errors}`;
}

const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 19);

/** The frame's lines, each at most `width` columns (no limit when undefined), at most `height` lines when given. */
export function renderTop(view: TopView, width?: number, height?: number): string[] {
  const head: string[] = [];
  const every = view.interval_s === null ? 'first sample: rates follow' : `every ${Number(view.interval_s.toFixed(1))}s`;
  head.push(`memshift top  ${view.admin}  ${every}  ${clock(view.at_ms)} UTC`);
  const p = view.proxy;
  head.push(`clients ${p.curr_connections}  get ${formatRate(p.gets_per_s)}/s  hit ${p.hit_ratio === null ? '-' : `${formatPercent(p.hit_ratio)}%`}  set ${formatRate(p.sets_per_s)}/s  backend errors ${formatRate(p.backend_errors_per_s)}/s`);
  for (const m of view.migrations) head.push(migrationLine(m));
  for (const s of view.syncs) head.push(syncLine(s));

  const rows: { server: string; cells: Cells | null; reason?: string }[] = [];
  for (const pool of view.pools) {
    rows.push({ server: pool.name, cells: poolCells(pool) });
    const several = pool.groups.length > 1;
    const add = (r: BackendRow, indent: string): void => {
      const label = r.name === null ? r.address : `${r.address} ${r.name}`;
      rows.push({ server: `${indent}${label}`, cells: cells(r), ...(r.state !== 'up' && r.reason !== null ? { reason: `${indent}  └ ${r.reason}` } : {}) });
    };
    for (const g of pool.groups) {
      if (several) rows.push({ server: `  group ${g.name}`, cells: null });
      for (const r of g.backends) add(r, several ? '    ' : '  ');
    }
    if (pool.leaving.length > 0) rows.push({ server: '  leaving (the migration\'s old servers)', cells: null });
    for (const r of pool.leaving) add(r, '    ');
  }
  const wanted = Math.max('SERVER'.length, ...rows.filter((r) => r.cells !== null).map((r) => r.server.length));
  const { columns, server } = columnsFor(width, wanted);
  const body: string[] = [];
  for (const r of rows) {
    body.push(r.cells === null ? fit(r.server, width) : line(r.server, r.cells, columns, server, width));
    if (r.reason !== undefined) body.push(fit(r.reason, width));
  }
  const out = [...head.map((l) => fit(l, width)), line('SERVER', null, columns, server, width)];
  if (height !== undefined && out.length + body.length > height) {
    const room = Math.max(0, height - out.length - 1);
    return [...out, ...body.slice(0, room), fit(`… ${body.length - room} more lines: a taller terminal shows them`, width)].slice(0, Math.max(1, height));
  }
  return [...out, ...body];
}
