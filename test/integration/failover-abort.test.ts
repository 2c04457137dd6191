/**
 * Issue 12: an aborted failover is rebuilt when its server returns. Two replica groups of two
 * memcached, two sidecars, a model-checked load; A2 is killed, its failover starts and is aborted
 * (rolled back: A2 is in ga's ring again, its keys read from gb while it is down); A2 then comes
 * back empty. The sidecars rebuild it from gb before it serves reads: ga holds every key again,
 * and no read was stale, resurrected or lost.
 */
import { afterAll, expect, it } from 'vitest';
import { hold, pollUntil, startMemcached, stopAll, TextClient, type ServerHandle } from '../support/harness.js';
import { finalCheck, formatReport, runModelLoad } from '../support/model-load.js';
import { printPhases, startSidecars, untilAll, waitForPhase } from '../support/migration-scenario.js';
import { groupItems } from '../support/replication-scenario.js';

afterAll(stopAll);

interface BackendView {
  address: string;
  recovering: boolean;
  sync: { state: string } | null;
}

async function backendView(admin: number, address: string): Promise<BackendView | undefined> {
  const r = (await (await fetch(`http://127.0.0.1:${admin}/replication`)).json()) as { pools: { groups: { backends: BackendView[] }[] }[] };
  return r.pools[0]!.groups.flatMap((g) => g.backends).find((b) => b.address === address);
}

it('an aborted failover: the dead server, back empty, is rebuilt from the other group before it serves reads', async () => {
  const [a1, a2, b1, b2] = await Promise.all(Array.from({ length: 4 }, () => startMemcached({ memoryMb: 64 })));
  const spec = (s: ServerHandle | undefined): string => `${s!.address}:1`;
  const { sidecars, admins } = await startSidecars(() => ({
    replicas: [
      { name: 'ga', servers: [spec(a1), spec(a2)] },
      { name: 'gb', servers: [spec(b1), spec(b2)] },
    ],
    write: 'one',
    read: 'primary',
    failover_after: '2s',
    // A slow copy, so that the abort lands in it.
    resync: { rate: 500 },
  }));
  const ports = sidecars.map((p) => p.port);
  const c = await TextClient.connect(ports[0]!);
  const keys = Array.from({ length: 4_000 }, (_, i) => `k:${i}`);
  for (let i = 0; i < keys.length; i += 500) {
    await c.write(keys.slice(i, i + 500).map((k) => `set ${k} 0 0 ${k.length} noreply\r\n${k}\r\n`).join(''));
    expect(await c.request('mn')).toBe('MN\r\n');
  }
  c.close();

  let stop = false;
  const model = runModelLoad({ ports, keys: 1_000, clients: 4, stop: () => stop, timeoutMs: 10_000 });
  await hold(1_000, 'the load runs before the kill');
  a2!.kill('SIGKILL');
  await a2!.waitExit();
  await waitForPhase(admins[0]!, ['copy', 'dual_read'], 60_000);
  const r = await fetch(`http://127.0.0.1:${admins[0]}/migration/abort`, { method: 'POST', headers: { authorization: 'Bearer test-token' } });
  expect(r.status, await r.text()).toBe(200);
  const rolledBack = await untilAll(admins, (x) => x.phase === 'aborted' && x.rolled_back === true && x.t_cleanup_s !== null, 60_000);
  expect(rolledBack.map((x) => [x.phase, x.rolled_back])).toEqual([['aborted', true], ['aborted', true]]);

  await a2!.restart();
  // Each sidecar sees it come back (probes back off to 30 s at most), one rebuilds it, both wait for that.
  const viewsOfA2 = (): Promise<(BackendView | undefined)[]> => Promise.all(admins.map((a) => backendView(a, a2!.address)));
  const rebuilt = (views: (BackendView | undefined)[]): boolean => views.every((v) => v?.recovering === false && v.sync?.state === 'done');
  const views = await pollUntil('A2 rebuilt, in both sidecars', viewsOfA2, rebuilt, 90_000, 250).catch(viewsOfA2);
  console.log(`A2 after its return: ${JSON.stringify(views)}`);
  expect(views.map((v) => [v?.recovering, v?.sync?.state])).toEqual([[false, 'done'], [false, 'done']]);
  await hold(1_000, 'the load runs on with A2 rebuilt');
  stop = true;
  const report = await finalCheck(ports, await model);
  console.log(`aborted failover, A2 rebuilt: ${formatReport(report)}`);
  printPhases(report, sidecars);
  expect(report.samples).toEqual([]);
  expect({ stale: report.staleReads, resurrected: report.resurrectedDeletes, lost: report.lostWrites }).toEqual({ stale: 0, resurrected: 0, lost: 0 });
  // ga holds every loaded key again (A2's share came back with the rebuild).
  const ga = await groupItems([a1!, a2!]);
  expect(keys.filter((k) => ga.get(k)?.value !== k).slice(0, 5)).toEqual([]);
}, 300_000);
