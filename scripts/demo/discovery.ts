/**
 * `npm run demo -- --discovery`: the same 2 -> 3 growth under the same load, but pool main takes its
 * servers from DNS and grows by a DNS record instead of a config edit (issue 16). A real dnsmasq
 * (the tests' own, test/support/dnsmasq.ts) on 127.0.0.1 and a free port answers memcached.demo.test
 * with one A record per memcached, from a hosts file; each memcached listens on its own loopback
 * address (127.0.2.1 to .3) on one port, the records'. The pool has `discovery` (resolver: that
 * dnsmasq; ring names from the PTR records: mc-a.demo.test, ...) and `autopilot: {migrate: auto,
 * min_stable: 2s}`; A and B are in DNS, C runs but is not.
 *
 * The operator's part: `memshift plan --from A,B --to A,B,C` (the estimate; the pool has no
 * migration block to plan), then C's record is added to the hosts file and dnsmasq re-reads it
 * (SIGHUP), as a StatefulSet's scale-up adds a pod to its headless Service. The sidecar's watch sees
 * the new set, waits min_stable, and its autopilot starts migration auto-main-<hash> by itself; GET
 * /discovery shows each step, and `memshift migrate watch --id` follows the migration until done.
 */
import { parseServerSpec } from '../../src/config/server-spec.js';
import { loadConfigFile } from '../../src/config/load.js';
import type { ServerSpec } from '../../src/config/types.js';
import type { DiscoveryRuntime } from '../../src/discovery/runtime.js';
import { parseEstimateLine, type Times } from '../../bench/estimate-check.js';
import type { MigrationStatus } from '../../src/migration/status.js';
import { freePort, sleep, startDnsmasq, startMemcached, type DnsmasqHandle, type HostsLine } from '../../test/support/harness.js';
import { COUNTERS, NAMES, num, phaseLines, say, SEED_KEYS, startMemshiftFor, type Cluster } from './cluster.js';
import type { Load } from './load.js';
import { migrationStatus, MIGRATION_TIMEOUT_S, operator } from './report.js';

const DNS_NAME = 'memcached.demo.test';
const MIN_STABLE_S = 2;
/** How long the demo waits for the autopilot to start its migration after the DNS change. */
const AUTOPILOT_TIMEOUT_S = 30;

const podName = (i: number): string => `mc-${NAMES[i]!.toLowerCase()}.demo.test`;
const podIp = (i: number): string => `127.0.2.${i + 1}`;
/** The hosts-file lines of the first `count` memcached: address, name (PTR), the Service's name. */
const hostsLines = (count: number): HostsLine[] => NAMES.slice(0, count).map((_, i) => [podIp(i), podName(i), DNS_NAME]);

export interface DnsCluster extends Cluster {
  readonly dns: DnsmasqHandle;
}

/** What GET /discovery answers. */
type DiscoveryBody = ReturnType<DiscoveryRuntime['snapshot']>;

export async function startDnsCluster(): Promise<DnsCluster> {
  const port = await freePort(podIp(0));
  const backends = await Promise.all(NAMES.map((_, i) => startMemcached({ host: podIp(i), port, memoryMb: 64 })));
  const dns = await startDnsmasq({ hosts: hostsLines(2), ttl: 1 });
  const discovery = { dns: DNS_NAME, port, interval: '1s', names: 'hostname', resolver: dns.address };
  const autopilot = { migrate: 'auto', min_stable: `${MIN_STABLE_S}s` };
  const hosts = hostsLines(2).map((line) => `  | ${line.join(' ')}`);
  const dnsLine = `  dnsmasq      ${dns.address}  (pid ${dns.pid}), answers ${DNS_NAME} from its hosts file ${dns.hostsFile}:`;
  const { memshift, admin } = await startMemshiftFor(backends, { discovery, autopilot }, [dnsLine, ...hosts]);
  const pool = [...loadConfigFile(memshift.configFile).pools.values()][0]!;
  // The ring as the sidecar builds it from the records: each server named by its PTR name.
  const specs = backends.map((s, i) => specOf(`${s.address}:1 ${podName(i)}`));
  return { backends, memshift, admin, dns, rings: { pool, from: specs.slice(0, 2), to: specs }, startAt: 0 };
}

function specOf(text: string): ServerSpec {
  const parsed = parseServerSpec(text);
  if (!parsed.ok) throw new Error(`demo: its server ${text} does not parse: ${parsed.error}`);
  return parsed.value;
}

export function explainDns(): void {
  const [a, b, cc] = NAMES;
  say(`
The pool has no server list: its servers are the A records of ${DNS_NAME}, which
dnsmasq answers from its hosts file: ${a} and ${b} (ring names ${podName(0)} and ${podName(1)},
from their PTR records). ${cc} runs but is not in DNS. Nobody edits the config or runs \`migrate
start\`: once ${cc}'s record is added, memshift's watch (it asks every second) sees [${a}, ${b}, ${cc}];
when that set has been unchanged for min_stable (${MIN_STABLE_S} s), the autopilot names the migration
auto-main-<hash of the old and new rings> (every sidecar that sees the change names the same one),
publishes it planned and starts it 2 s later. memshift then walks it through its phases as any
migration (eager copy, the default settle of 1 s, cleanup):
${phaseLines(1)}
The demo seeds ${num(SEED_KEYS)} keys and ${COUNTERS} counters, keeps 4 clients busy through memshift and checks
every answer, and does what an operator does: \`memshift plan --from --to\` (what adding ${cc} moves, and
how long each phase takes, from rates a probe measures in plan's own process: a sidecar probes only
a migration it has planned), adds ${cc}'s DNS record, and follows the migration with
\`memshift migrate watch\`.`);
}

async function discovery(c: Cluster): Promise<DiscoveryBody> {
  const res = await fetch(`${c.admin}/discovery`, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`GET ${c.admin}/discovery: ${res.status}`);
  return (await res.json()) as DiscoveryBody;
}

const names = (set: readonly { name?: string; address: string }[] | null): string => (set === null ? '-' : `[${set.map((s) => s.name ?? s.address).join(', ')}]`);

/**
 * Follows GET /discovery from the DNS change until the autopilot has a migration of the set with
 * `servers` servers; each new state is shown once. Returns the migration's id.
 */
async function untilAutopilot(c: DnsCluster, servers: number): Promise<string> {
  const since = Date.now();
  const deadline = since + AUTOPILOT_TIMEOUT_S * 1000;
  let shown = '';
  for (;;) {
    const body = await discovery(c);
    const watch = body.watches[0]!;
    const pool = body.pools[0]!;
    const at = `+${((Date.now() - since) / 1000).toFixed(1)} s`;
    const state =
      pool.move !== null && watch.stable?.length === servers
        ? `the stable set is ${names(watch.stable)}; the autopilot's migration: ${pool.move} (moves ${((pool.share ?? 0) * 100).toFixed(1)}% of the keys)`
        : watch.pendingForMs !== null
          ? `${DNS_NAME} answers ${names(watch.candidate)}; the stable set stays ${names(watch.stable)} until that one has been seen for ${MIN_STABLE_S} s`
          : `the stable set is ${names(watch.stable)}: the new record is not seen yet (look-ups so far ${watch.counters.resolves})`;
    if (state !== shown) say(`  ${at.padStart(7)}  GET /discovery: ${state}`);
    shown = state;
    if (pool.move !== null && watch.stable?.length === servers) return pool.move;
    if (Date.now() > deadline) throw new Error(`the autopilot started no migration within ${AUTOPILOT_TIMEOUT_S} s of the DNS change (GET /discovery: ${JSON.stringify(body)})`);
    await sleep(200);
  }
}

const serverList = (specs: readonly ServerSpec[]): string => specs.map((s) => s.raw).join(',');

/**
 * The operator's part while the clients run: `plan --from A,B --to A,B,C` (its estimate is
 * returned), C's DNS record added, GET /discovery until the autopilot has started its migration,
 * and `migrate watch` until done; then the load's tally so far and the final GET /migration.
 */
export async function operateByDns(c: DnsCluster, load: Load): Promise<{ status: MigrationStatus; estimate: Times | null; how: string }> {
  const config = c.memshift.configFile;
  const cc = NAMES[2];
  say(`\nThe clients run. What would adding ${cc} move, and how long would each phase take?`);
  const estimate = parseEstimateLine(await operator(['plan', '-c', config, '--from', serverList(c.rings.from), '--to', serverList(c.rings.to)]));
  say(`\nAdding ${cc}'s DNS record (${num(load.tally.total)} requests so far, errors ${load.tally.errors}, wrong ${load.tally.wrongTotal}), as a scale-up of a`);
  say(`StatefulSet adds its pod to the headless Service; no config edit, no \`migrate start\`:`);
  say(`\n$ echo '${hostsLines(3)[2]!.join(' ')}' >> ${c.dns.hostsFile}; kill -HUP ${c.dns.pid}`);
  await c.dns.setHosts(hostsLines(3));
  c.startAt = Date.now();
  say(`  dnsmasq read its hosts file again: ${DNS_NAME} has ${hostsLines(3).length} A records`);
  const id = await untilAutopilot(c, NAMES.length);
  await operator(['migrate', 'watch', '-c', config, '--id', id], MIGRATION_TIMEOUT_S * 1000);
  const status = await migrationStatus(c);
  if (status.id !== id || status.phase !== 'done') throw new Error(`migration ${id} is not done (GET /migration: ${status.id} in phase ${status.phase})`);
  say(`  (the clients meanwhile: ${num(load.tally.total)} requests, errors ${load.tally.errors}, wrong answers ${load.tally.wrongTotal})`);
  const after = await discovery(c);
  const pool = after.pools[0]!;
  const watch = after.watches[0]!;
  say(
    `\nThe change came from DNS: GET /discovery says pool ${pool.pool}'s stable set is ${names(watch.stable)} (changes ${watch.counters.changes}),` +
      `\nand its autopilot started ${pool.move} (autopilot migrations ${pool.counters.migrations}, refusals ${pool.counters.refusals.share}); the config file is as it was.`,
  );
  return { status, estimate, how: `, by migration ${id} that memshift's autopilot started when ${cc}'s DNS record appeared,` };
}
