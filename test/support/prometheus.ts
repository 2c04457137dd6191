/**
 * A real Prometheus for integration tests (Debian's `prometheus` package, /usr/bin/prometheus):
 * its own temp dir for the config and the TSDB, a free loopback port for its web listener, and the
 * harness's process management, so `stopAll()` (and the exit hooks and parent-death signal of
 * `process.ts`) end it like memcached and memshift. It never touches a Prometheus the package may
 * have started as a service.
 *
 *   const prom = await startPrometheus({ targets: ['127.0.0.1:9121'] });
 *   await prom.waitForTarget();                  // one successful scrape
 *   const series = await prom.query('memshift_requests_total');
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { ensureTempDir, makeTempDir, ManagedProcess, sleep } from './process.js';
import { onFreePort, Server, waitForEndpoint, type ServerHandle } from './servers.js';
import { PROMETHEUS, requireDep } from './system-deps.js';

export interface PrometheusOptions {
  /** `host:port` of each target. */
  targets: readonly string[];
  /** The job label, default `memshift`. */
  job?: string;
  /** Default /metrics. */
  metricsPath?: string;
  /** Seconds, default 1 (the scrape timeout is the same). */
  scrapeIntervalSeconds?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default: a free port. */
  port?: number;
}

/** One series of an instant vector. */
export interface PromSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: readonly [number, string];
}

export interface PrometheusHandle extends ServerHandle {
  readonly configFile: string;
  /** `http://host:port`. */
  readonly url: string;
  /** GET /api/v1/query; throws unless the answer is a success with a vector. */
  query(expr: string): Promise<PromSample[]>;
  /** Until every target of the job has been scraped successfully (`up == 1`); throws with the target list after `timeoutMs`. */
  waitForTarget(timeoutMs?: number): Promise<void>;
  /** Until `query(expr)` returns a vector for which `done` holds; returns it. */
  waitForQuery(expr: string, done: (samples: PromSample[]) => boolean, timeoutMs?: number): Promise<PromSample[]>;
}

interface ApiAnswer {
  status?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

async function getJson(url: string): Promise<ApiAnswer> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  try {
    return JSON.parse(text) as ApiAnswer;
  } catch {
    throw new Error(`GET ${url}: ${res.status} ${text.slice(0, 500)}`);
  }
}

/** Polls GET /-/ready until Prometheus answers 200 (it listens before the TSDB is open). */
async function waitReady(url: string, proc: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return;
    } catch {
      // not yet
    }
    if (!proc.running) throw new Error(`${proc.name} ${proc.describeExit()} before it was ready; output:\n${proc.logTail()}`);
    if (Date.now() > deadline) throw new Error(`${proc.name} not ready within ${timeoutMs} ms; output:\n${proc.logTail()}`);
    await sleep(100);
  }
}

/**
 * Writes a scrape config for `targets` and runs `prometheus --config.file … --storage.tsdb.path <temp>
 * --web.listen-address host:<free port>`, waiting until it is ready.
 */
export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusHandle> {
  requireDep(PROMETHEUS);
  const host = opts.host ?? '127.0.0.1';
  const job = opts.job ?? 'memshift';
  const interval = `${opts.scrapeIntervalSeconds ?? 1}s`;
  const dir = makeTempDir('prometheus');
  const configFile = join(dir, 'prometheus.yml');
  const config = stringifyYaml({
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    scrape_configs: [{ job_name: job, metrics_path: opts.metricsPath ?? '/metrics', static_configs: [{ targets: [...opts.targets] }] }],
  });
  return onFreePort(host, opts.port, async (port) => {
    const url = `http://${host}:${port}`;
    const server = await Server.start(async () => {
      ensureTempDir(dir);
      writeFileSync(configFile, config);
      const proc = ManagedProcess.start({
        name: `prometheus ${host}:${port}`,
        command: PROMETHEUS,
        args: [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=${host}:${port}`, '--log.level=info'],
        logFile: join(dir, 'prometheus.log'),
        cwd: dir,
      });
      await waitForEndpoint({ host, port }, proc, 30_000);
      await waitReady(url, proc, 30_000);
      return { proc, host, port };
    });

    const query = async (expr: string): Promise<PromSample[]> => {
      const answer = await getJson(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      if (answer.status !== 'success' || answer.data?.resultType !== 'vector' || !Array.isArray(answer.data.result)) {
        throw new Error(`query ${expr}: ${JSON.stringify(answer).slice(0, 500)}`);
      }
      return answer.data.result as PromSample[];
    };

    const waitForQuery = async (expr: string, done: (samples: PromSample[]) => boolean, timeoutMs = 30_000): Promise<PromSample[]> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const samples = await query(expr);
        if (done(samples)) return samples;
        if (Date.now() > deadline) throw new Error(`query ${expr}: condition not met within ${timeoutMs} ms; last answer ${JSON.stringify(samples).slice(0, 1_000)}`);
        await sleep(250);
      }
    };

    const waitForTarget = async (timeoutMs = 30_000): Promise<void> => {
      try {
        await waitForQuery(`up{job="${job}"}`, (s) => s.length === opts.targets.length && s.every((x) => x.value[1] === '1'), timeoutMs);
      } catch (err) {
        const targets = await getJson(`${url}/api/v1/targets`).catch((e: unknown) => ({ error: String(e) }));
        throw new Error(`${(err as Error).message}\ntargets: ${JSON.stringify(targets).slice(0, 2_000)}\nprometheus output:\n${server.logs().split('\n').slice(-20).join('\n')}`, {
          cause: err,
        });
      }
    };

    return Object.assign(server, { configFile, url, query, waitForTarget, waitForQuery });
  });
}
