/**
 * A migration's counts only grow, for the whole migration (issue 14: after pause and resume,
 * `copied` went back from 4434 to 0). Under the model-checked load of migration-scenario.ts, every
 * sidecar's GET /migration is read every 100 ms while the copy is paused and resumed, and while its
 * leader is stopped (SIGTERM: the other sidecar takes over) and started again: no count that any
 * sidecar shows is ever lower than one it showed before. Also: the sidecar that does not run the
 * copy shows its progress bar, and the stopped leader logs which migration it left in which phase.
 */
import { afterAll, expect, it } from 'vitest';
import { sleep, stopAll, type ServerHandle, waitUntil } from '../support/harness.js';
import { leaderOf, migrationStatus, runMigrationScenario } from '../support/migration-scenario.js';

afterAll(stopAll);

type Counts = Record<string, number>;

const post = async (admin: number, action: string): Promise<void> => {
  const r = await fetch(`http://127.0.0.1:${admin}/migration/${action}`, { method: 'POST', headers: { authorization: 'Bearer test-token' } });
  expect(r.status, await r.text()).toBe(200);
};

const until = (what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> => waitUntil(what, check, ms, 50);

/**
 * Reads every running sidecar's counts every 100 ms until stopped; `drops` lists each count that
 * was lower than the same sidecar showed before (across its restart too: it stopped gracefully).
 */
function watchCounts(sidecars: readonly ServerHandle[], admins: readonly number[]): { stop: () => Promise<void>; drops: string[]; reads: number; followerBars: number; last: (i: number) => Counts } {
  const seen: Counts[] = admins.map(() => ({}));
  const drops: string[] = [];
  let stopped = false;
  let reads = 0;
  let followerBars = 0;
  const loop = (async () => {
    while (!stopped) {
      await Promise.all(
        admins.map(async (admin, i) => {
          if (!sidecars[i]!.running) return;
          const s = await migrationStatus(admin).catch(() => null);
          if (s === null || s.counts === undefined) return;
          reads++;
          // The copy's progress bar shows on a sidecar that does not run the copy too (the leader publishes it).
          const p = s.progress as { phase: string; walked: number } | null;
          if (s.phase === 'copy' && s.this_process_leads === false && p?.phase === 'copy' && p.walked > 0) followerBars++;
          for (const [k, v] of Object.entries(s.counts as Counts)) {
            if (v < (seen[i]![k] ?? 0)) drops.push(`${new Date().toISOString()} sidecar ${i} ${k} ${seen[i]![k]} -> ${v} (phase ${String(s.phase)}, paused ${String(s.paused)}, leads ${String(s.this_process_leads)})`);
            seen[i]![k] = Math.max(v, seen[i]![k] ?? 0);
          }
        }),
      );
      await sleep(100); // the sampling interval
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
    drops,
    get reads() {
      return reads;
    },
    get followerBars() {
      return followerBars;
    },
    last: (i) => seen[i]!,
  };
}

it('counts never go back: across pause and resume mid-copy, a new leader, and a restarted sidecar', async () => {
  let watcher: ReturnType<typeof watchCounts> | undefined;
  let sidecarsSeen: ServerHandle[] = [];
  const copying = async (admin: number, over: (c: Counts) => boolean): Promise<boolean> => {
    const s = await migrationStatus(admin);
    return s.phase === 'copy' && over(s.counts as Counts);
  };
  const { status } = await runMigrationScenario({
    servers: 3,
    from: [0, 1],
    to: [0, 1, 2],
    keys: 20_000,
    // About 7,000 moved keys at 1,000 keys/s: each copy pass takes some 7 s.
    rate: 1_000,
    during: async (sidecars, admins) => {
      sidecarsSeen = sidecars;
      watcher = watchCounts(sidecars, admins);
      await until('the copy to be under way', () => copying(admins[0]!, (c) => (c.copied ?? 0) >= 1_000));
      console.log(`${new Date().toISOString()} pause`);
      await post(admins[0]!, 'pause');
      await until('both sidecars to show the pause', async () => (await Promise.all(admins.map(migrationStatus))).every((s) => s.paused === true));
      const paused = watcher.last(0).scanned!;
      console.log(`${new Date().toISOString()} resume, paused at ${paused}`);
      await post(admins[1]!, 'resume');
      // The copy runs again from the start of each old owner; its counts add to what was counted.
      // (The leader's last count before the pause may land after it: count on from the resume.)
      await until('both sidecars to show the resume', async () => (await Promise.all(admins.map(migrationStatus))).every((s) => s.paused === false));
      const resumed = Math.max(paused, ((await migrationStatus(admins[0]!)).counts as Counts).scanned!);
      await until('the resumed copy to count on', () => copying(admins[0]!, (c) => c.scanned! >= resumed + 500));

      // The leader stops (SIGTERM) mid-copy: the other sidecar takes the lease and copies on.
      const leader = await leaderOf(admins);
      const other = 1 - leader;
      expect((await migrationStatus(admins[leader]!)).phase).toBe('copy');
      const before = watcher.last(other).scanned!;
      console.log(`${new Date().toISOString()} stop ${leader}`);
      expect(await sidecars[leader]!.stop(15_000)).toBe(0);
      // It says which migration it left, and where.
      expect(sidecars[leader]!.logs()).toMatch(/leaving migration test-move of pool main in phase copy: it goes on in the other sidecars; this sidecar led it, another takes over its lease/);
      await until('the other sidecar to lead', async () => (await migrationStatus(admins[other]!)).this_process_leads === true);
      await until('the new leader to count on', async () => ((await migrationStatus(admins[other]!)).counts as Counts).scanned! > before);
      // Started again, it reads the counts from the record.
      console.log(`${new Date().toISOString()} restart ${leader}`);
      await sidecars[leader]!.restart();
      await until('the migration to end', async () => (await Promise.all(admins.map(migrationStatus))).every((s) => s.phase === 'done'), 240_000);
      await watcher.stop();
    },
  });
  if (watcher!.drops.length > 0) for (const [i, p] of sidecarsSeen.entries()) console.log(`sidecar ${i}:\n${p.logs().split('\n').filter((l) => l.includes('migration')).join('\n')}`);
  expect(watcher!.reads).toBeGreaterThan(100);
  // As text, so a failure shows which sidecar saw which count go back, in which phase (an array prints as […(29)]).
  expect(watcher!.drops.length === 0 ? '' : `${watcher!.drops.length} drops, the first:\n${watcher!.drops.slice(0, 12).join('\n')}`).toBe('');
  expect(watcher!.followerBars).toBeGreaterThan(0);
  const c = status.counts as Counts;
  console.log(`counts at done: ${JSON.stringify(c)}; ${watcher!.reads} reads`);
  // Three copy passes at least (before the pause, after it, after the new leader took over).
  expect(c.scanned).toBeGreaterThan(c.copied ?? 0);
}, 400_000);
