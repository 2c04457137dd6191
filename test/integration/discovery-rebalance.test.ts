/**
 * `autopilot.rebalance: suggest` (issue 16) with real parts: three memcached pods behind mc.test on
 * a real dnsmasq, one memshift with `workers: 2` whose pool main discovers them. The test puts a
 * skewed load on pod mc-0 (its keys hold big values, and only its keys are read, through the
 * sidecar): GET /discovery shows mc-0 carrying most of the load, an imbalance well above 0 and a
 * reweight that lowers mc-0's weight and leaves less imbalance; /metrics exports the same figures,
 * once (worker 0 measures; the primary folds the workers' samples). A pod that stops answering
 * makes its load unknown, logged once, by worker 0 alone.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort, keysOnServer, spreadKeys, startDnsmasq, startMemcached, startMemshift, stopAll, TextClient, waitUntil } from '../support/harness.js';
import { podIp, podLines, podName } from '../support/discovery-scenario.js';
import { scrape, metricValue } from '../support/workers.js';

afterAll(stopAll);

interface LoadServer {
  address: string;
  load: number | null;
  getsPerSec: number | null;
  bytes: number | null;
  suggestedWeight: number | null;
  error: string | null;
}
interface LoadReport {
  pool: string;
  group: string;
  sampledAt: number | null;
  servers: LoadServer[];
  imbalance: number | null;
  reweight: { changes: { address: string; from: number; to: number }[]; movedShare: number; imbalance: number | null } | null;
  add: { changes: { address: string; from: null; to: number }[]; movedShare: number; imbalance: number | null } | null;
  note: string | null;
}

describe('autopilot.rebalance: suggest', () => {
  it('reports a pod under skewed load, with the weights that even it out, in GET /discovery and /metrics (workers: 2)', async () => {
    const port = await freePort(podIp(0));
    const pods = await Promise.all([0, 1, 2].map((i) => startMemcached({ host: podIp(i), port, memoryMb: 64 })));
    const dns = await startDnsmasq({ hosts: podLines([0, 1, 2]), ttl: 1 });
    const admin = await freePort();
    const pool = { discovery: { dns: 'mc.test', port, interval: '1s', resolver: dns.address }, autopilot: { rebalance: 'suggest' } };
    const yaml = stringify({ workers: 2, listen: [`127.0.0.1:${await freePort()}`], admin: { listen: `127.0.0.1:${admin}`, token: 'test-token' }, pools: { main: pool } });
    const proxy = await startMemshift(yaml, { startTimeoutMs: 30_000 });
    const discovery = async (): Promise<LoadReport | undefined> => {
      const r = await fetch(`http://127.0.0.1:${admin}/discovery`);
      expect(r.status).toBe(200);
      return ((await r.json()) as { rebalance: LoadReport[] }).rebalance[0];
    };
    const server = (i: number): string => `${podName(i)}:${port}`;

    // Small values everywhere; then mc-0's keys get 20 KB values, and only they are read.
    const keys = spreadKeys('load:', 300);
    const c = await TextClient.connect(proxy.port);
    for (const k of keys) expect(await c.request(`set ${k} 0 0 1\r\nx`)).toBe('STORED\r\n');
    const hot = [...(await keysOnServer(pods[0]!.port, keys, pods[0]!.host))];
    expect(hot.length).toBeGreaterThan(50);
    const big = 'v'.repeat(20_000);
    for (const k of hot) expect(await c.request(`set ${k} 0 0 ${big.length}\r\n${big}`)).toBe('STORED\r\n');
    let stop = false;
    const reads = (async () => {
      const reader = await TextClient.connect(proxy.port);
      for (let i = 0; !stop; i++) await reader.request(`get ${hot[i % hot.length]!}`);
      reader.close();
    })();

    let report: LoadReport | undefined;
    try {
      await waitUntil(
        'GET /discovery shows mc-0 as the busy pod, with a reweight',
        async () => {
          report = await discovery();
          return report !== undefined && report.imbalance !== null && report.imbalance > 0.8 && report.reweight !== null && report.servers[0]!.getsPerSec! > 50;
        },
        30_000,
        250,
      );
      const r = report!;
      expect(r).toMatchObject({ pool: 'main', group: 'main', note: null });
      expect(r.sampledAt).toBeGreaterThan(Date.now() - 30_000);
      expect(r.servers.map((s) => s.address)).toEqual([0, 1, 2].map(server));
      const [hotPod, ...others] = r.servers;
      // Most of the bytes and nearly all the gets: far above a third of the load.
      expect(hotPod!.load!).toBeGreaterThan(0.6);
      expect(hotPod!.bytes!).toBeGreaterThan(hot.length * 20_000);
      for (const o of others) expect(o.load!).toBeLessThan(hotPod!.load! / 3);
      expect(r.imbalance).toBeCloseTo(hotPod!.load! * 3 - 1, 9);
      // The reweight gives mc-0 less of the ring than the others, and leaves less imbalance.
      for (const o of others) expect(hotPod!.suggestedWeight!).toBeLessThan(o.suggestedWeight!);
      expect(r.reweight!.imbalance!).toBeLessThan(r.imbalance!);
      expect(r.reweight!.movedShare).toBeGreaterThan(0);
      // One more pod (the way a discovered pool acts: its servers all weigh 1) takes some of the ring.
      expect(r.add!.changes).toEqual([{ address: 'NEW:11211', from: null, to: 1 }]);
      expect(r.add!.movedShare).toBeGreaterThan(0.1);

      // /metrics: the same figures (a round later at most), one sample each, folded from the workers.
      await waitUntil(
        '/metrics shows the imbalance',
        async () => {
          const text = await scrape(admin);
          return text.includes('memshift_discovery_imbalance{pool="main",group="main"}') && metricValue(text, 'memshift_discovery_imbalance', '{pool="main",group="main"}') > 0.8;
        },
        10_000,
        250,
      );
      const text = await scrape(admin);
      const share = (i: number): number => metricValue(text, 'memshift_discovery_load_share', `{pool="main",group="main",server="${server(i)}"}`);
      const weight = (i: number): number => metricValue(text, 'memshift_discovery_suggested_weight', `{pool="main",group="main",server="${server(i)}"}`);
      expect(share(0)).toBeGreaterThan(0.6);
      expect(share(0) + share(1) + share(2)).toBeCloseTo(1, 6);
      expect(weight(0)).toBeLessThan(Math.min(weight(1), weight(2)));
      for (const family of ['memshift_discovery_imbalance{', 'memshift_discovery_load_share{', 'memshift_discovery_suggested_weight{']) {
        const samples = text.split('\n').filter((l) => l.startsWith(family));
        expect(samples, family).toHaveLength(family.startsWith('memshift_discovery_imbalance') ? 1 : 3);
      }
    } finally {
      stop = true;
      await reads;
      c.close();
    }

    // A pod that stops answering: its load is unknown (no imbalance), logged once, by worker 0 only.
    pods[2]!.kill('SIGKILL');
    await pods[2]!.waitExit();
    await waitUntil('GET /discovery names the pod without stats', async () => (await discovery())?.note === `no stats from ${server(2)}`, 15_000, 250);
    const after = (await discovery())!;
    expect(after.imbalance).toBeNull();
    expect(after.servers[2]!.error).toEqual(expect.any(String));
    const logged = proxy
      .logs()
      .split('\n')
      .filter((l) => l.includes(`"msg":"pool main: no stats from ${server(2)}`))
      .map((l) => (JSON.parse(l) as { worker?: number }).worker);
    expect(logged).toEqual([0]);
    expect((await scrape(admin)).split('\n').filter((l) => l.startsWith('memshift_discovery_imbalance{'))).toEqual([]);
  });
});
