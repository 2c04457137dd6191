/**
 * A real DNS server for discovery tests: Debian's dnsmasq on 127.0.0.1 and a free port (UDP and
 * TCP), in the foreground, reading neither /etc/resolv.conf nor /etc/hosts nor /etc/dnsmasq.conf.
 *
 *   const dns = await startDnsmasq({ hosts: [['127.0.0.11', 'mc-0.mc.test', 'mc.test']], ttl: 5 });
 *   await dns.setHosts([...]);          // rewrites the hosts file, SIGHUP, waits for the re-read
 *   await dns.setSrv([{ service: '_memcache._tcp.mc.test', target: 'mc-0.mc.test', port: 11211 }]);
 *   afterAll(stopAll);                  // it is a ManagedProcess like every server: always cleaned up
 *
 * What dnsmasq 2.90 does here (measured):
 * - A and AAAA records come from an `--addn-hosts` file, which SIGHUP re-reads (the log says
 *   `read FILE - N names` each time; `setHosts` waits for that line, not for a delay). A PTR query for
 *   an address is answered with the first name of its line.
 * - SRV records (`--srv-host`) are configuration, which SIGHUP does not re-read, neither from the
 *   command line nor from a `--conf-file` edited in place. `setSrv` (and `setTtl`) restart dnsmasq on
 *   the same port: about 40 ms without an answer (a query then gets ECONNREFUSED).
 * - `--local-ttl` is the TTL of every A/AAAA answer (dnsmasq's default is 0).
 * - Names under `localDomains` (default `test`) are answered from local data only: a name the file
 *   lacks gets NXDOMAIN (node: ENOTFOUND), a type it lacks (AAAA of a name with only A) NODATA
 *   (ENODATA). A name elsewhere gets REFUSED (EREFUSED): there is no upstream server.
 * - dnsmasq alone does not answer SERVFAIL: a query forwarded to a closed port is never answered, and
 *   an upstream's REFUSED is passed on as REFUSED. For a failing DNS server use `pause()` (no answer
 *   at all: a timeout) or `stop()` (ECONNREFUSED).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureTempDir, makeTempDir, ManagedProcess, sleep } from './process.js';
import { onFreePort, Server, waitForEndpoint } from './servers.js';
import { requireBinary } from './system-deps.js';

/** One line of the hosts file: an address, then its names (the first answers PTR queries). */
export type HostsLine = readonly [address: string, ...names: string[]];

export interface SrvRecord {
  /** The SRV name, e.g. `_memcache._tcp.mc.test`. */
  readonly service: string;
  /** Absent: the record says the service is not offered (target "."): an answer with no servers. */
  readonly target?: string;
  /** Default 11211. */
  readonly port?: number;
  /** Default 0. */
  readonly priority?: number;
  /** Default 0. */
  readonly weight?: number;
}

export interface DnsmasqOptions {
  readonly hosts?: readonly HostsLine[];
  readonly srv?: readonly SrvRecord[];
  /** `--local-ttl` in seconds; default 0 (dnsmasq's). */
  readonly ttl?: number;
  /** Domains answered from local data only (`--local=/d/`); default `['test']`. */
  readonly localDomains?: readonly string[];
  /** Default: a free port. */
  readonly port?: number;
  /** More dnsmasq options, e.g. `--address=/noptr.test/10.1.1.1` (an A record with no PTR). */
  readonly args?: readonly string[];
}

export interface DnsmasqHandle {
  readonly host: string;
  readonly port: number;
  /** `127.0.0.1:PORT`: what `Resolver.setServers` and a discovery `resolver:` take. */
  readonly address: string;
  readonly hostsFile: string;
  readonly pid: number;
  readonly running: boolean;
  /** Rewrites the hosts file, sends SIGHUP and waits until dnsmasq has read it again. */
  setHosts(lines: readonly HostsLine[]): Promise<void>;
  /** Replaces the SRV records: a restart on the same port (SIGHUP does not re-read them). */
  setSrv(records: readonly SrvRecord[]): Promise<void>;
  /** Replaces `--local-ttl`: a restart on the same port. */
  setTtl(seconds: number): Promise<void>;
  /** SIGSTOP: queries reach the socket and are not answered until `resume()`. */
  pause(): void;
  resume(): void;
  /** Stops dnsmasq (queries get ECONNREFUSED); `restart()` starts it again on the same port. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** What this dnsmasq logged (queries included). */
  logs(): string;
}

const HOST = '127.0.0.1';

function hostsText(lines: readonly HostsLine[]): string {
  return lines.map((line) => `${line.join(' ')}\n`).join('');
}

function srvArg(r: SrvRecord): string {
  if (r.target === undefined) return `--srv-host=${r.service}`;
  return `--srv-host=${r.service},${r.target},${r.port ?? 11211},${r.priority ?? 0},${r.weight ?? 0}`;
}

/** How many times the log says dnsmasq read `file`. */
function readsOf(proc: ManagedProcess, file: string): number {
  return proc.logs().split(`read ${file} - `).length - 1;
}

class Dnsmasq implements DnsmasqHandle {
  readonly hostsFile: string;
  #server!: Server;
  /** The current process; undefined before the first start. */
  #proc: ManagedProcess | undefined;
  #srv: readonly SrvRecord[];
  #ttl: number;
  readonly #args: readonly string[];

  constructor(
    readonly port: number,
    readonly dir: string,
    opts: DnsmasqOptions,
  ) {
    this.hostsFile = join(dir, 'hosts');
    this.#srv = opts.srv ?? [];
    this.#ttl = opts.ttl ?? 0;
    this.#args = opts.args ?? [];
  }

  async start(hosts: readonly HostsLine[], localDomains: readonly string[]): Promise<void> {
    this.#server = await Server.start(async () => {
      ensureTempDir(this.dir);
      // A restart keeps the hosts file as the last setHosts left it.
      if (this.#proc === undefined) writeFileSync(this.hostsFile, hostsText(hosts));
      const asRoot = process.getuid?.() === 0 ? ['--user=root'] : []; // else it reads the file as nobody, from a 0700 dir
      const args = [
        '--conf-file=/dev/null',
        '--no-resolv',
        '--no-hosts',
        '--bind-interfaces',
        `--listen-address=${HOST}`,
        `--port=${this.port}`,
        '--keep-in-foreground',
        '--log-facility=-',
        '--log-queries',
        '--pid-file=',
        '--cache-size=0',
        ...asRoot,
        `--addn-hosts=${this.hostsFile}`,
        `--local-ttl=${this.#ttl}`,
        ...localDomains.map((d) => `--local=/${d}/`),
        ...this.#srv.map(srvArg),
        ...this.#args,
      ];
      const proc = ManagedProcess.start({ name: `dnsmasq ${HOST}:${this.port}`, command: requireBinary('dnsmasq'), args, logFile: join(this.dir, 'dnsmasq.log') });
      // It listens on TCP and UDP at once, and reads the hosts file before it answers anything.
      await waitForEndpoint({ host: HOST, port: this.port }, proc);
      this.#proc = proc;
      return { proc, host: HOST, port: this.port };
    });
  }

  get host(): string {
    return HOST;
  }
  get address(): string {
    return `${HOST}:${this.port}`;
  }
  get pid(): number {
    return this.#server.pid;
  }
  get running(): boolean {
    return this.#server.running;
  }

  async setHosts(lines: readonly HostsLine[]): Promise<void> {
    const proc = this.#proc;
    if (proc === undefined || !proc.running) throw new Error(`dnsmasq ${this.address} is not running: restart() it first`);
    const before = readsOf(proc, this.hostsFile);
    writeFileSync(this.hostsFile, hostsText(lines));
    proc.signal('SIGHUP');
    const deadline = Date.now() + 5_000;
    while (readsOf(proc, this.hostsFile) === before) {
      if (!proc.running || Date.now() > deadline) throw new Error(`${proc.name} did not re-read ${this.hostsFile} after SIGHUP; output:\n${proc.logTail()}`);
      await sleep(5);
    }
  }

  async setSrv(records: readonly SrvRecord[]): Promise<void> {
    this.#srv = records;
    await this.restart();
  }

  async setTtl(seconds: number): Promise<void> {
    this.#ttl = seconds;
    await this.restart();
  }

  pause(): void {
    this.#server.pause();
  }
  resume(): void {
    this.#server.resume();
  }
  async stop(): Promise<void> {
    await this.#server.stop(2_000);
  }
  restart(): Promise<void> {
    return this.#server.restart();
  }
  logs(): string {
    return this.#server.logs();
  }
}

/** Starts dnsmasq on a free port and waits until it answers; installs nothing (the global setup does). */
export async function startDnsmasq(opts: DnsmasqOptions = {}): Promise<DnsmasqHandle> {
  const dir = makeTempDir('dnsmasq');
  return onFreePort(HOST, opts.port, async (port) => {
    const dns = new Dnsmasq(port, dir, opts);
    await dns.start(opts.hosts ?? [], opts.localDomains ?? ['test']);
    return dns;
  });
}
