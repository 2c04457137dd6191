/**
 * `memshift plan`'s estimate next to what the migration measured (GET /migration), for the demo and
 * `bench --scenario migration`: each of T_copy, T_sync, T_verify, T_total (and T_cleanup) with the
 * ratio measured / estimate and whether it lands within ±30%.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const TOLERANCE = 0.3;
export const PHASES = ['t_copy_s', 't_sync_s', 't_verify_s', 't_total_s', 't_cleanup_s'] as const;
export type PhaseKey = (typeof PHASES)[number];
export type Times = Partial<Record<PhaseKey, number | null>>;
const LABEL: Record<PhaseKey, string> = { t_copy_s: 'T_copy', t_sync_s: 'T_sync', t_verify_s: 'T_verify', t_total_s: 'T_total', t_cleanup_s: 'T_cleanup' };

export interface Comparison {
  readonly phase: string;
  readonly estimate: number | null;
  readonly measured: number | null;
  /** measured / estimate. */
  readonly ratio: number | null;
  readonly within: boolean | null;
}

export function compareTimes(estimate: Times, measured: Times): Comparison[] {
  return PHASES.map((k) => {
    const e = estimate[k] ?? null;
    const m = measured[k] ?? null;
    const ratio = e === null || m === null || e <= 0 ? null : m / e;
    return { phase: LABEL[k], estimate: e, measured: m, ratio, within: ratio === null ? null : Math.abs(ratio - 1) <= TOLERANCE };
  });
}

/**
 * The estimate from `memshift plan`'s text: its line "est. T_copy 6.10 s + T_sync 2.25 s +
 * T_verify 2.40 s = T_total 10.75 s; T_cleanup 2.40 s" ("-" for an unknown one).
 */
export function parseEstimateLine(text: string): Times | null {
  const n = '(-|[0-9.]+ s)';
  const m = new RegExp(`est\\. T_copy ${n} \\+ T_sync ${n} \\+ T_verify ${n} = T_total ${n}; T_cleanup ${n}`).exec(text);
  if (m === null) return null;
  const v = (x: string | undefined): number | null => (x === undefined || x === '-' ? null : Number.parseFloat(x));
  return { t_copy_s: v(m[1]), t_sync_s: v(m[2]), t_verify_s: v(m[3]), t_total_s: v(m[4]), t_cleanup_s: v(m[5]) };
}

const s = (v: number | null): string => (v === null ? '-' : `${v.toFixed(2)} s`);

/** A table: phase, estimate, measured, ratio, within ±30%. */
export function formatComparison(rows: readonly Comparison[], indent = '  '): string {
  const cells = [['', 'estimate', 'measured', 'measured/est.', ''], ...rows.map((r) => [r.phase, s(r.estimate), s(r.measured), r.ratio === null ? '-' : r.ratio.toFixed(2), r.within === null ? '' : r.within ? 'within ±30%' : 'OUTSIDE ±30%'])];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  return cells.map((c) => `${indent}${c.map((x, i) => (i === 0 || i === 4 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ')}`.trimEnd()).join('\n');
}

/** dist/cli.js of this checkout. */
export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/**
 * Runs `memshift ARGS` (the built CLI) as a child process; each line of its output goes to `line`
 * as it comes. Resolves to its exit status and whole stdout; killed after `timeoutMs`.
 */
export function runMemshiftCli(args: readonly string[], line: (text: string) => void, timeoutMs = 180_000): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    const lines = (stream: NodeJS.ReadableStream, keep: boolean): void => {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        if (keep) stdout += chunk;
        rest += chunk;
        for (let i = rest.indexOf('\n'); i >= 0; i = rest.indexOf('\n')) {
          line(rest.slice(0, i));
          rest = rest.slice(i + 1);
        }
      });
      stream.on('end', () => rest !== '' && line(rest));
    };
    lines(child.stdout, true);
    lines(child.stderr, false);
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout });
    });
  });
}
