/**
 * The operator's part (memshift plan, migrate start, migrate watch as child processes, their output
 * shown) and the final report: the phase times against plan's estimate, the key counts, the load's
 * requests, errors and wrong answers, where the keys live before and after, and a few lines of
 * GET /metrics.
 */
import { table } from '../../src/cli/common.js';
import type { MigrationBody } from '../../src/cli/migrate.js';
import { compareTimes, formatComparison, parseEstimateLine, runMemshiftCli, type Times } from '../../bench/estimate-check.js';
import type { MigrationStatus } from '../../src/migration/status.js';
import { allSeededKeys, NAMES, num, ringOwners, say, type Cluster } from './cluster.js';
import { KINDS, WRONG, type Load } from './load.js';

/** The demo gives up when the migration is not done this long after its start. */
export const MIGRATION_TIMEOUT_S = 120;

export async function migrationStatus(c: Cluster): Promise<MigrationStatus> {
  const res = await fetch(`${c.admin}/migration`, { signal: AbortSignal.timeout(5_000) });
  const body = (await res.json()) as MigrationBody;
  if (body.phase === null) throw new Error(`GET ${c.admin}/migration: memshift reports no migration`);
  return body;
}

/** An argument as a shell would need it typed. */
const shellWord = (arg: string): string => (/^[\w./:,=@-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);

/** Runs `memshift ARGS` as an operator would, its output shown indented; throws unless it exits 0. */
export async function operator(args: readonly string[], timeoutMs?: number): Promise<string> {
  say(`\n$ memshift ${args.map(shellWord).join(' ')}`);
  const r = await runMemshiftCli(args, (line) => say(`  ${line}`), timeoutMs);
  if (r.status !== 0) throw new Error(`memshift ${args[0]} ${args[1] ?? ''} exited with status ${r.status}`);
  return r.stdout;
}

/**
 * The operator's commands while the clients run: `plan` (its estimate is returned), `migrate start`,
 * and `migrate watch` until done; then the load's tally so far and the final GET /migration.
 */
export async function operate(c: Cluster, load: Load): Promise<{ status: MigrationStatus; estimate: Times | null }> {
  const config = c.memshift.configFile;
  say('\nThe clients run. What would the migration move, and how long would each phase take?');
  const estimate = parseEstimateLine(await operator(['plan', '-c', config]));
  say(`\nStarting it (${num(load.tally.total)} requests so far, errors ${load.tally.errors}, wrong ${load.tally.wrongTotal}):`);
  await operator(['migrate', 'start', '-c', config]);
  c.startAt = Date.now();
  await operator(['migrate', 'watch', '-c', config], MIGRATION_TIMEOUT_S * 1000);
  const status = await migrationStatus(c);
  if (status.phase !== 'done') throw new Error(`the migration is not done (phase ${status.phase})`);
  say(`  (the clients meanwhile: ${num(load.tally.total)} requests, errors ${load.tally.errors}, wrong answers ${load.tally.wrongTotal})`);
  return { status, estimate };
}

const secs = (v: number | null): string => (v === null ? '-' : `${v.toFixed(2)} s`);

export function printTimesAndCounts(s: MigrationStatus, estimate: Times | null): void {
  say('\nMigration (from GET /migration):');
  const rows = [
    ['T_copy', secs(s.t_copy_s), 'dual_write begins -> every moved key copied'],
    ['T_sync', secs(s.t_sync_s), '-> every sidecar reads the new owners first'],
    ['T_verify', secs(s.t_verify_s), '-> a verify pass found no difference'],
    ['T_total', secs(s.t_total_s), '= T_copy + T_sync + T_verify'],
    ['T_cleanup', secs(s.t_cleanup_s), 'moved keys deleted from the old owners'],
  ];
  say(table(rows, '  ', [false, true]).trimEnd());
  const k = s.counts;
  say(`  keys: scanned ${num(k.scanned)}, copied ${num(k.copied)}, skipped ${num(k.skipped)} (already right on the new owner), verified ${num(k.verified)},`);
  say(`        mismatched ${num(k.mismatched)}, repaired ${num(k.repaired)}, backfilled ${num(k.backfilled)}, cleaned ${num(k.cleaned)}, errors ${num(k.errors)}`);
  say(`  moved share of the keyspace: ${(s.moved_share * 100).toFixed(1)}%; verify: ${s.verify === null ? '-' : `${s.verify.passes} pass(es), ${s.verify.note}`}`);
  say('\nmemshift plan\'s estimate against the measured times:');
  say(estimate === null ? '  (no estimate: memshift plan printed none)' : formatComparison(compareTimes(estimate, s)));
}

export function printLoad(load: Load, seconds: number, final: { keys: number; wrong: number }): void {
  const t = load.tally;
  say(`\nClient load (4 connections through memshift, ${seconds.toFixed(0)} s, ${num(Math.round(t.total / seconds))} req/s on average):`);
  const rows = KINDS.map((kind) => [kind, num(t.requests.get(kind)!), kind === 'multi-get' ? `(${num(t.multiGetKeys)} keys)` : '']);
  rows.push(['total', num(t.total), 'requests']);
  say(table(rows, '  ', [false, true]).trimEnd());
  say(`  errors (error replies, timeouts, dropped connections): ${t.errors}   (expected 0)`);
  say(`  wrong answers: ${t.wrongTotal}   (expected 0: ${WRONG.map((w) => `${w} ${t.wrong.get(w)}`).join(', ')})`);
  say(`  final check: every seeded key and counter read once more through memshift: ${num(final.keys)} read, ${final.wrong} wrong`);
  for (const sample of t.samples) say(`    e.g. ${sample}`);
}

/** Per server: the seeded keys it held before the migration and holds now, and what the rings say it should. */
export function printPlacement(c: Cluster, load: Load, before: Set<string>[], after: Set<string>[]): boolean {
  const owners = ringOwners(c);
  const keys = allSeededKeys();
  const deleted = new Set(keys.filter((_, i) => i < load.model.deleted.length && load.model.deleted[i] === 1));
  const live = keys.filter((k) => !deleted.has(k));
  const count = (sets: Set<string>[], i: number): number => sets[i]!.size;
  const newOwned = (i: number): number => live.filter((k) => owners.after(k) === i).length;
  const movedIn = (i: number): number => [...after[i]!].filter((k) => owners.before(k) !== i).length;
  const stillOld = (i: number): number => [...after[i]!].filter((k) => owners.after(k) !== i).length;
  say(`\nWhere the ${num(keys.length)} seeded keys live (me <key> on each memcached; ${num(deleted.size)} were deleted by the clients):`);
  const movedOut = (i: number): number => [...before[i]!].filter((k) => owners.after(k) !== i).length;
  const rows = [['server', 'before', 'moved out', 'moved in', 'after', 'new ring owns', 'not its key']];
  c.backends.forEach((s, i) =>
    rows.push([`${NAMES[i]} ${s.address}`, ...[count(before, i), movedOut(i), movedIn(i), count(after, i), newOwned(i), stillOld(i)].map(num)]),
  );
  say(table(rows, '  ', [false, true, true, true, true, true, true]).trimEnd());
  const onTwo = live.filter((k) => after.filter((set) => set.has(k)).length > 1).length;
  const misplaced = live.filter((k) => !after[owners.after(k)]!.has(k)).length;
  const zombies = [...deleted].filter((k) => after.some((set) => set.has(k))).length;
  say(`  keys on two servers: ${onTwo}; live keys missing from their new-ring owner: ${misplaced}; deleted keys still stored: ${zombies}   (expected 0 each)`);
  say(`  (moved out: keys it held that the new ring gives to another server; not its key: such keys it still holds, 0 after cleanup;`);
  say(`   after = before - moved out + moved in - the keys the clients deleted)`);
  return onTwo + misplaced + zombies + c.backends.reduce((n, _, i) => n + stillOld(i), 0) === 0;
}

const METRIC_LINES = [
  /^memshift_migration_phase\{.*\} 1$/,
  /^memshift_migration_phase_seconds/,
  /^memshift_migration_keys\{.*kind="(copied|verified|cleaned)"/,
  /^memshift_migration_(moved_share|backfilled_total)/,
  /^memshift_backend_error_replies_total/,
];

/** A few lines of GET /metrics: the migration's, and those `more` matches. */
export async function printMetrics(c: Cluster, more: readonly RegExp[] = []): Promise<void> {
  const text = await (await fetch(`${c.admin}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  say(`\nPrometheus metrics: ${c.admin}/metrics (a few lines of ${num(text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length)}):`);
  for (const line of text.split('\n')) if ([...METRIC_LINES, ...more].some((re) => re.test(line))) say(`  ${line}`);
}
