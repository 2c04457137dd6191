/**
 * For tests of `workers: N`: which pid each worker has (from memshift's log), and GET /metrics read
 * as numbers.
 */
import type { ServerHandle } from './servers.js';

/** The pid of each worker that serves now, by index: its last `memshift listening` line (a worker forked again logs a new one). */
export function workerPids(proxy: Pick<ServerHandle, 'logs'>): number[] {
  const pids: number[] = [];
  for (const line of proxy.logs().split('\n')) {
    if (!line.includes('"msg":"memshift listening"')) continue;
    try {
      const l = JSON.parse(line) as { worker?: number; pid?: number };
      if (typeof l.worker === 'number' && typeof l.pid === 'number') pids[l.worker] = l.pid;
    } catch {
      // a line cut short: the next read has it whole
    }
  }
  return pids;
}

/** GET /metrics of the admin API on `port`. */
export async function scrape(port: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (r.status !== 200) throw new Error(`GET /metrics answered ${r.status}: ${await r.text()}`);
  return r.text();
}

/** The value of the sample `name{labels}` (labels as written, `{a="b"}`, or '' for none; the first of the family when absent). */
export function metricValue(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => (labels === '' ? l.startsWith(`${name} `) || l.startsWith(`${name}{`) : l.startsWith(`${name}${labels} `)));
  if (line === undefined) throw new Error(`no sample ${name}${labels} in /metrics`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}
