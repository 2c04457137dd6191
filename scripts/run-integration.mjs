#!/usr/bin/env node
// Runs the integration tests (or with --acceptance the acceptance tests) one file at a time:
// `npm run build` first (startMemshift runs dist/cli.js), then
// `npx vitest run --project <project> <file>` per file, output streamed, then a summary table
// and a last line `N passed, N failed` (files). Exit status 1 when any file failed.
// Extra arguments that are not options pick files by substring: `npm run test:integration -- smoke`.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { constants as osConstants } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const acceptance = argv.includes('--acceptance');
const filters = argv.filter((a) => !a.startsWith('--'));
const project = acceptance ? 'acceptance' : 'integration';
const dir = join(root, 'test', project);

let current = null;
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    const status = 128 + osConstants.signals[signal];
    console.error(`\nrun-integration: ${signal}, stopping`);
    if (current === null) process.exit(status);
    // Pass the signal on (a SIGTERM from a CI timeout reaches only us), give vitest 10 s to clean up.
    current.once('close', () => process.exit(status));
    current.kill(signal);
    setTimeout(() => process.exit(status), 10_000).unref();
  });
}

/**
 * Runs a command with its output streamed; with `keep`, also keeps the last 1 MiB of what it
 * printed (stdout and stderr) in keep.text, for the failure excerpts at the end.
 */
function run(command, args, keep) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: keep ? ['inherit', 'pipe', 'pipe'] : 'inherit' });
    current = child;
    if (keep) {
      const tee = (out) => (chunk) => {
        out.write(chunk);
        keep.text = (keep.text + chunk.toString()).slice(-1_048_576);
      };
      child.stdout.on('data', tee(process.stdout));
      child.stderr.on('data', tee(process.stderr));
    }
    child.on('error', (err) => {
      console.error(`run-integration: ${command}: ${err.message}`);
    });
    child.on('close', (code, signal) => {
      current = null;
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

const files = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => f.endsWith('.test.ts'))
      .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
      .sort()
      .map((f) => relative(root, join(dir, f)))
  : [];

if (files.length === 0) {
  console.log(`run-integration: no test files in ${relative(root, dir)}/${filters.length ? ` matching ${filters.join(', ')}` : ''}; nothing to run`);
  console.log('0 passed, 0 failed');
  process.exit(0);
}

console.log('run-integration: npm run build');
const buildStatus = await run('npm', ['run', 'build']);
if (buildStatus !== 0) {
  console.error(`run-integration: npm run build failed (exit ${buildStatus}); no tests run`);
  process.exit(1);
}

const results = [];
for (const file of files) {
  if (stopping) break;
  console.log(`\n=== ${file} (--project ${project})`);
  const started = Date.now();
  const keep = { text: '' };
  const status = await run('npx', ['vitest', 'run', '--project', project, file], keep);
  results.push({ file, ok: status === 0, status, seconds: (Date.now() - started) / 1000, output: keep.text });
}

/**
 * What vitest printed about a failed file's failures (its "Failed Tests" section, or else the last
 * lines), at most 120 lines: printed again just above the table, so that a log cut to its tail
 * still says which assertion failed.
 */
function failureExcerpt(output) {
  // eslint-disable-next-line no-control-regex
  const lines = output.replace(/\x1b\[[0-9;]*m/g, '').split('\n');
  let from = lines.findIndex((l) => /Failed Tests? \d+|Unhandled Errors?/.test(l));
  if (from < 0) from = Math.max(0, lines.length - 60);
  const to = lines.findIndex((l, i) => i > from && /^\s*Test Files\s/.test(l));
  const excerpt = lines.slice(from, to < 0 ? lines.length : to);
  return excerpt.length > 120 ? [...excerpt.slice(0, 110), `... (${excerpt.length - 120} lines left out) ...`, ...excerpt.slice(-10)] : excerpt;
}

for (const r of results.filter((x) => !x.ok)) {
  console.log(`\n--- ${r.file} failed (exit ${r.status}); what vitest said of it:`);
  for (const line of failureExcerpt(r.output)) console.log(`  ${line}`);
}

const width = Math.max(4, ...results.map((r) => r.file.length));
console.log(`\n${'file'.padEnd(width)}  result  seconds`);
console.log(`${'-'.repeat(width)}  ------  -------`);
for (const r of results) {
  console.log(`${r.file.padEnd(width)}  ${(r.ok ? 'pass' : 'FAIL').padEnd(6)}  ${r.seconds.toFixed(1).padStart(7)}`);
}
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
