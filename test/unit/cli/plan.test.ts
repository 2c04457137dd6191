/**
 * `memshift plan` in-process: the table and --json against planMigration, servers on closed ports
 * (estimates "-", a warning, exit 0), a fake memcached answering `stats` (real estimates and
 * --rebalance), --from/--to overrides and the usage errors.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServerSpec } from '../../../src/config/server-spec.js';
import type { ServerSpec } from '../../../src/config/types.js';
import { type PlanReport, planMigration } from '../../../src/migration/plan.js';
import type { RebalanceReport } from '../../../src/migration/rebalance.js';
import type { MigrationEstimate } from '../../../src/migration/estimate.js';
import { run, tempConfigs } from './helpers.js';

const files = tempConfigs();

/** Ports on 127.0.0.1 nobody listens on: bound to find them, then closed. */
async function closedPorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** A memcached that answers only `version` and `stats`, with these numbers; cmd_get and cmd_set grow by `ops` per request. */
async function fakeMemcached(items: number, bytes: number, ops: number): Promise<net.Server> {
  let calls = 0;
  const server = net.createServer((socket) => {
    // plan's probe resets its connections (the fake answers its meta commands with ERROR).
    socket.on('error', () => {});
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        // A connection opens with `version` (backend/connection.ts), which memcached answers.
        if (line === 'version') {
          socket.write('VERSION 1.6.0-fake\r\n');
          continue;
        }
        if (line !== 'stats') {
          socket.write('ERROR\r\n');
          continue;
        }
        calls++;
        const stat = { pid: 1, curr_items: items, bytes, cmd_get: calls * ops * 0.8, cmd_set: calls * ops * 0.2 };
        socket.write(`${Object.entries(stat).map(([k, v]) => `STAT ${k} ${v}\r\n`).join('')}END\r\n`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const spec = (raw: string): ServerSpec => {
  const p = parseServerSpec(raw);
  if (!p.ok) throw new Error(p.error);
  return p.value;
};
const pool = { name: 'main', hash: 'fnv1a_64', distribution: 'ketama' } as const;

let closed: number[] = [];
const fakes: net.Server[] = [];
let live: number[] = [];

beforeAll(async () => {
  closed = await closedPorts(12);
  for (const [items, bytes, ops] of [[30_000, 30_000_000, 3000], [10_000, 10_000_000, 1000], [10_000, 10_000_000, 1000]] as const) fakes.push(await fakeMemcached(items, bytes, ops));
  live = fakes.map((f) => (f.address() as net.AddressInfo).port);
});
afterAll(async () => {
  files.cleanup();
  await Promise.all(fakes.map((f) => new Promise((resolve) => f.close(resolve))));
});

const addr = (port: number): string => `127.0.0.1:${port}`;
function migrationConfig(from: string[], to: string[], extra = ''): string {
  return files.write(`m-${from.length}-${to.length}-${Math.random()}.yml`, `listen: ["127.0.0.1:0"]
pools:
  main:
    servers: ${JSON.stringify(to)}
    migration: {id: m1, from: ${JSON.stringify(from)}${extra}}
`);
}

describe('memshift plan', () => {
  it('prints the moves of the migration block, "-" for servers that do not answer, and exits 0', async () => {
    const from = [`${addr(closed[0]!)}:1`, `${addr(closed[1]!)}:1`];
    const to = [...from, `${addr(closed[2]!)}:1`];
    const file = migrationConfig(from, to, ', rate: 500');
    const r = await run(['plan', '-c', file]);
    expect(r.status).toBe(0);
    const expected = planMigration({ oldServers: from.map(spec), newServers: to.map(spec), pool, stats: new Map(), rateKeysPerSec: 500 });
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('pool main: 2 -> 3 servers (hash fnv1a_64, distribution ketama)');
    expect(lines[1]).toMatch(/^ {2}from +to +share +est\. items +est\. bytes$/);
    expected.moves.forEach((m, i) => {
      expect(lines[2 + i]!.trim().split(/ +/)).toEqual([m.from, '->', m.to, `${(m.share * 100).toFixed(2)}%`, '-', '-']);
    });
    expect(lines[2 + expected.moves.length]!.trim().split(/ +/)).toEqual(['total', `${(expected.movedShare * 100).toFixed(2)}%`, '-', '-']);
    // No stats from a server with moving keys: no estimate, and it says why.
    expect(r.stdout).toContain('no estimate: a server with moving keys gave no stats');
    expect(r.stderr).toContain(`memshift plan: warning: no stats from ${addr(closed[0]!)}`);
    expect(r.stderr).toContain('its estimates are "-"');
  });

  it('estimates items, bytes and T_copy from the old servers stats', async () => {
    const from = live.slice(0, 2).map((p) => `${addr(p)}:1`);
    const to = [...from, `${addr(closed[3]!)}:1`];
    const r = await run(['plan', '-c', migrationConfig(from, to), '--json']);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    const { estimate, probe, notes, ...report } = JSON.parse(r.stdout) as PlanReport & { estimate: MigrationEstimate; probe: unknown; notes: string[] };
    // The fakes answer stats only: the probe gets nothing through, so the paced steps are at the rate limit.
    expect(probe).not.toBeNull();
    expect(notes.some((n) => n.includes('no key got through the copy step'))).toBe(true);
    expect(estimate.rates.copy).toEqual({ perSec: 20_000, from: 'rate limit' });
    const stats = new Map([
      [addr(live[0]!), new Map([['curr_items', '30000'], ['bytes', '30000000']])],
      [addr(live[1]!), new Map([['curr_items', '10000'], ['bytes', '10000000']])],
    ]);
    expect(report).toEqual(planMigration({ oldServers: from.map(spec), newServers: to.map(spec), pool, group: 'main', stats, rateKeysPerSec: 20_000 }));
    expect(report.items).toBeGreaterThan(0);
    const text = await run(['plan', '-c', migrationConfig(from, to), '--rate', '100', '--no-probe']);
    expect(text.stdout).toMatch(/MiB/);
    // Without a probe: the copy at the rate limit, settle 1 s (the default) before each phase switch.
    expect(text.stdout).toContain(`${(report.items! / 100).toFixed(2)} s  copy: ${report.items!.toLocaleString('en-US')} moved keys at 100 keys/s (rate limit)`);
    expect(text.stdout).toMatch(/est\. T_copy [0-9.]+ s \+ T_sync 1\.13 s \+ T_verify [0-9.]+ s = T_total [0-9.]+ s; T_cleanup [0-9.]+ s/);
    expect(text.stdout).toContain('no probe: every paced step at the rate limit');
  }, 30_000);

  it('--from/--to 10 -> 11 servers: about 9.1% moves, all of it to the 11th server', async () => {
    // Fixed addresses (nothing listens on port 9 there: stats fail fast), so the shares are the same every run.
    const hosts = Array.from({ length: 11 }, (_, i) => `127.0.1.${i + 1}:9`);
    const servers = hosts.map((h) => `${h}:1`);
    const file = migrationConfig(servers.slice(0, 2), servers.slice(0, 3));
    const r = await run(['plan', '-c', file, '--from', servers.slice(0, 10).join(','), '--to', servers.join(', ')]);
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('pool main: 10 -> 11 servers (hash fnv1a_64, distribution ketama)');
    const rows = lines.slice(2, 12).map((l) => l.trim().split(/ +/));
    expect(rows.every((row) => row[2] === hosts[10])).toBe(true);
    const total = Number(lines[12]!.trim().split(/ +/)[1]!.replace('%', ''));
    expect(total).toBeGreaterThan(7.5);
    expect(total).toBeLessThan(10.5);
    const json = JSON.parse((await run(['plan', '-c', file, '--json', '--from', servers.slice(0, 10).join(','), '--to', servers.join(',')])).stdout) as PlanReport;
    expect(json.movedShare * 100).toBeCloseTo(total, 1);
    expect(json.from).toHaveLength(10);
  });

  it('--rebalance prints each server load and the two proposals', async () => {
    const servers = live.map((p) => `${addr(p)}:1`);
    const file = files.write('rebalance.yml', `listen: ["127.0.0.1:0"]\npools: {main: {servers: ${JSON.stringify(servers)}}}\n`);
    const r = await run(['plan', '-c', file, '--rebalance', '--json', '--add', '127.0.0.1:1']);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    const report = JSON.parse(r.stdout) as RebalanceReport;
    expect(report.servers.map((s) => s.items)).toEqual([30_000, 10_000, 10_000]);
    expect(report.servers[0]!.getsPerSec!).toBeGreaterThan(0);
    expect(report.servers.map((s) => s.load)).toEqual([0.6, 0.2, 0.2].map((x) => expect.closeTo(x, 2)));
    expect(report.loadRatio).toBeCloseTo(1.8, 2);
    expect(report.reweight!.loadRatio!).toBeLessThan(1.2);
    expect(report.add.changes).toEqual([{ address: '127.0.0.1:1', from: null, to: 1 }]);
    const text = await run(['plan', '-c', file, '--rebalance']);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^ {2}server +weight +share +items +bytes +get\/s +set\/s +load$/m);
    expect(text.stdout).toContain('max/mean load: 1.80');
    expect(text.stdout).toMatch(/ {2}reweight: .* -> /);
    expect(text.stdout).toMatch(/ {4}moves \d+\.\d\d% of the hash space; est\. max\/mean load \d\.\d\d/);
    expect(text.stdout).toMatch(/ {2}add NEW:11211 \(weight 1\): moves \d+\.\d\d% of the hash space/);
  });

  it('--rebalance with servers that do not answer still proposes adding one', async () => {
    const file = files.write('rebalance-closed.yml', `listen: ["127.0.0.1:0"]\npools: {main: {servers: ["${addr(closed[0]!)}", "${addr(closed[1]!)}"]}}\n`);
    const r = await run(['plan', '-c', file, '--rebalance']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("reweight: - (needs every server's load)");
    expect(r.stdout).toMatch(/add NEW:11211 \(weight 1\): moves \d+\.\d\d% of the hash space; est\. max\/mean load -/);
    expect(r.stderr.match(/warning/g)).toHaveLength(2);
  });

  it('usage errors', async () => {
    const plain = files.write('plain.yml', `listen: ["127.0.0.1:0"]\npools: {main: {servers: ["${addr(closed[0]!)}"]}}\n`);
    const noMigration = await run(['plan', '-c', plain]);
    expect(noMigration.status).toBe(64);
    expect(noMigration.stderr).toMatch(/memshift plan: pool "main" has no migration: pass --to SERVERS.*migration: block/);
    const file = migrationConfig([`${addr(closed[0]!)}:1`], [`${addr(closed[0]!)}:1`, `${addr(closed[1]!)}:1`]);
    for (const [args, message] of [
      [['--from', 'nohost'], /--from: missing port/],
      [['--to', '127.0.0.1:1,127.0.0.1:1'], /duplicate server address/],
      [['--to', ','], /--to needs at least one server/],
      [['--rate', '0'], /--rate must be a positive number/],
      [['--pool', 'nope'], /unknown pool "nope"/],
      [['--add', '127.0.0.1:9'], /--add goes with --rebalance/],
      [['--rebalance', '--from', '127.0.0.1:9'], /takes no --from/],
      [['--rebalance', '--add', `${addr(closed[1]!)}`], /already in pool/],
      [['--from', '127.0.0.1:1 a,127.0.0.2:1 a'], /ring name "a"/],
      [['--bogus'], /Unknown option/],
    ] as const) {
      const r = await run(['plan', '-c', file, ...args]);
      expect({ args, status: r.status }).toEqual({ args, status: 64 });
      expect(r.stderr).toMatch(message);
    }
  });

  it('plans each replica group from its migration.from group', async () => {
    const [a, b, c, d, e] = closed.map(addr);
    const file = files.write('replicas.yml', `listen: ["127.0.0.1:0"]
pools:
  main:
    replicas: [{name: za, servers: ["${a}", "${b}", "${c}"]}, {name: zb, servers: ["${d}", "${e}"]}]
    migration: {id: m1, from: [{name: za, servers: ["${a}", "${b}"]}, {name: zb, servers: ["${d}"]}]}
`);
    const r = await run(['plan', '-c', file]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('pool main, group za: 2 -> 3 servers');
    expect(r.stdout).toContain('pool main, group zb: 1 -> 2 servers');
    const json = (await run(['plan', '-c', file, '--json'])).stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as PlanReport);
    expect(json.map((p) => [p.group, p.from.length, p.to.length])).toEqual([['za', 2, 3], ['zb', 1, 2]]);
  });

  it('is listed in the top-level help and has its own', async () => {
    expect((await run(['--help'])).stdout).toMatch(/^ {2}plan +show which keys/m);
    const h = await run(['plan', '--help']);
    expect(h).toMatchObject({ status: 0 });
    expect(h.stdout).toMatch(/^Usage: memshift plan/);
  });
});
