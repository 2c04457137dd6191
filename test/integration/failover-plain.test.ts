/**
 * Passive migration of a pool without replica groups (issue 6): a server down longer than
 * failover_after has its arcs moved to the other servers. No copy of its keys exists, so they start
 * empty on their new owners; the check is that the two sidecars switch together and that nothing
 * stale is ever served: a leftover copy of a moved key on a new owner (from an earlier ring) is
 * removed before reads move, keys of the other servers keep their values, and a model-checked load
 * across the switch sees no stale read and no resurrected delete (the only lost writes are of keys
 * that lived on the dead server).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { hold, REPO_ROOT, keysOnServer, spreadKeys, startMemcached, stopAll, TextClient } from '../support/harness.js';
import { checkHistory, finalCheck, formatReport, runModelLoad } from '../support/model-load.js';
import { startSidecars, untilAll } from '../support/migration-scenario.js';

afterAll(stopAll);

/** Each key's server on the configured ring (`memshift route --json`). */
function ownedBy(configFile: string, keys: string[]): Map<string, string> {
  if (keys.length === 0) return new Map();
  const out = execFileSync(process.execPath, [join(REPO_ROOT, 'dist/cli.js'), 'route', '-c', configFile, '--json', ...keys], { encoding: 'utf8' });
  return new Map(out.trim().split('\n').map((l) => {
    const r = JSON.parse(l) as { key: string; server: string };
    return [r.key, r.server];
  }));
}

it('a plain pool moves a dead server\'s arcs to the others, starting them empty, with no stale value', async () => {
  const servers = await Promise.all([0, 1, 2].map(() => startMemcached({ memoryMb: 64 })));
  const { sidecars, admins } = await startSidecars(() => ({ servers: servers.map((s) => `${s.address}:1`), timeout: 1000, failover_after: '2s', failover_settle: '1s' }));
  const ports = sidecars.map((s) => s.port);
  const c = await TextClient.connect(ports[0]!);
  const keys = spreadKeys('p:', 3000);
  for (const k of keys) expect(await c.request(`set ${k} 0 0 ${k.length}\r\n${k}`)).toBe('STORED\r\n');
  const dead = servers[1]!;
  const onDead = await keysOnServer(dead.port, keys);
  expect(onDead.size).toBeGreaterThan(300);
  // A leftover of an earlier ring: an old value of a moved key on the servers that will own it.
  const planted = [...onDead].slice(0, 50);
  for (const s of [servers[0]!, servers[2]!]) {
    const d = await TextClient.connect(s.port);
    for (const k of planted) await d.request(`set ${k} 0 0 5\r\nstale`);
    d.close();
  }

  let stop = false;
  const model = runModelLoad({ ports, keys: 1_000, clients: 4, stop: () => stop, timeoutMs: 10_000 });
  await hold(500, 'the load runs before the kill');
  dead.kill('SIGKILL');
  await dead.waitExit();
  const all = await untilAll(admins, (x) => x.phase === 'done', 60_000);
  await hold(1_000, 'a little load on the smaller ring, after every sidecar is done');
  stop = true;
  const report = await finalCheck(ports, await model);
  console.log(`plain failover of ${dead.address}: ${formatReport(report)}; counts ${JSON.stringify(all[0]?.counts)}`);
  expect(all.map((x) => [x.phase, x.failover])).toEqual([0, 1].map(() => ['done', { group: 'main', server: dead.address }]));
  expect({ stale: report.staleReads, resurrected: report.resurrectedDeletes, unexplained: report.unexplainedReads }).toEqual({ stale: 0, resurrected: 0, unexplained: 0 });
  // Only keys that lived on the dead server can have lost their value.
  const all_ = checkHistory(report.history, { initial: report.initial, maxSamples: 1_000_000 });
  const lostKeys = new Set(all_.details.filter((v) => v.kind === 'lost-write').map((v) => v.key));
  expect(lostKeys.size).toBeLessThanOrEqual(report.lostWrites);
  const owned = ownedBy(sidecars[0]!.configFile, [...lostKeys]);
  for (const k of lostKeys) expect(owned.get(k), `${k} was not on the dead server`).toBe(dead.address);
  for (const port of ports) {
    const r = await TextClient.connect(port);
    // The leftovers are gone: a moved key reads as a miss, never the stale value.
    for (const k of planted) expect(await r.request(`get ${k}`)).toBe('END\r\n');
    // Keys of the other servers kept their values.
    for (const k of keys.filter((x) => !onDead.has(x)).slice(0, 200)) expect(await r.request(`get ${k}`)).toBe(`VALUE ${k} 0 ${k.length}\r\n${k}\r\nEND\r\n`);
    r.close();
  }
  // Both sidecars place moved keys on the same new owner: what one writes, the other reads.
  const [a, b] = await Promise.all(ports.map((p) => TextClient.connect(p)));
  for (const k of [...onDead].slice(100, 200)) {
    expect(await a!.request(`set ${k} 0 0 3\r\nnew`)).toBe('STORED\r\n');
    expect(await b!.request(`get ${k}`)).toBe(`VALUE ${k} 0 3\r\nnew\r\nEND\r\n`);
  }
  a!.close();
  b!.close();

  // A second server dies, with no config edit in between: the pool's second failover starts from
  // the first one's ring (the record lists the first server as out) and leaves one server.
  const second = servers[0]!;
  const survivor = servers[2]!;
  const configured = ownedBy(sidecars[0]!.configFile, keys.filter((x) => !onDead.has(x)));
  const kept = [...configured].filter(([, server]) => server === survivor.address).map(([k]) => k).slice(0, 200);
  expect(kept.length).toBe(200);
  let stop2 = false;
  const model2 = runModelLoad({ ports, keys: 1_000, prefix: 'm2:', counterPrefix: 'c2:', clients: 4, stop: () => stop2, timeoutMs: 10_000 });
  await hold(500, 'the load runs before the second kill');
  second.kill('SIGKILL');
  await second.waitExit();
  const id = `failover-main-${second.address.replace(/:/g, '_')}-2`;
  const after = await untilAll(admins, (x) => x.id === id && x.phase === 'done', 60_000);
  await hold(1_000, 'a little load on the ring of one server, after every sidecar is done');
  stop2 = true;
  const report2 = await finalCheck(ports, await model2);
  console.log(`second plain failover, of ${second.address}: ${formatReport(report2)}; counts ${JSON.stringify(after[0]?.counts)}`);
  expect(after.map((x) => [x.id, x.phase, x.failover])).toEqual([0, 1].map(() => [id, 'done', { group: 'main', server: second.address, out: [{ group: 'main', server: dead.address }] }]));
  expect({ stale: report2.staleReads, resurrected: report2.resurrectedDeletes, unexplained: report2.unexplainedReads }).toEqual({ stale: 0, resurrected: 0, unexplained: 0 });
  // Only keys of the two dead servers can have lost their value: none the survivor held.
  const lost2 = new Set(checkHistory(report2.history, { initial: report2.initial, maxSamples: 1_000_000 }).details.filter((v) => v.kind === 'lost-write').map((v) => v.key));
  const owned2 = ownedBy(sidecars[0]!.configFile, [...lost2]);
  for (const k of lost2) expect(owned2.get(k), `${k} was on the survivor`).not.toBe(survivor.address);
  // Every key now lives on the survivor: its own keys kept their values, through either sidecar.
  for (const port of ports) {
    const r = await TextClient.connect(port);
    for (const k of kept) expect(await r.request(`get ${k}`)).toBe(`VALUE ${k} 0 ${k.length}\r\n${k}\r\nEND\r\n`);
    expect(await r.request(`set chain:${port} 0 0 2\r\nok`)).toBe('STORED\r\n');
    r.close();
  }
  expect((await keysOnServer(survivor.port, ports.map((port) => `chain:${port}`))).size).toBe(ports.length);
  // Both failovers are in every sidecar's history, newest first (issue 14).
  for (const admin of admins) {
    const h = (await (await fetch(`http://127.0.0.1:${admin}/migration/history`)).json()) as { history: { kind: string; id: string; outcome: string }[] };
    expect(h.history.map((r) => [r.kind, r.id, r.outcome])).toEqual([
      ['passive', id, 'done'],
      ['passive', `failover-main-${dead.address.replace(/:/g, '_')}`, 'done'],
    ]);
  }
  c.close();
}, 180_000);
