/**
 * `npm run build` when dist/cli.js is missing or older than any file under src/. Shared by the
 * benchmark and the demo, which both run the compiled proxy (`node dist/cli.js serve`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/support/harness.js';

const ENTRY = join(REPO_ROOT, 'dist', 'cli.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Why a build is needed, or null when dist/ is up to date. */
export function buildReason(): string | null {
  if (!existsSync(ENTRY)) return 'dist/cli.js is missing';
  if (newestMtime(join(REPO_ROOT, 'src')) > statSync(ENTRY).mtimeMs) return 'src/ changed since the last build';
  return null;
}

/**
 * Builds when needed; `log` gets one line saying why. A failed build with an older dist/ left
 * in place is reported and tolerated (the old build runs); with no dist/ at all it throws.
 */
export function ensureBuilt(log: (line: string) => void): void {
  const reason = buildReason();
  if (reason === null) return;
  log(`${reason}: running npm run build`);
  const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 2, 2], timeout: 300_000 });
  if (r.status === 0) return;
  if (existsSync(ENTRY)) {
    log(`WARNING: npm run build failed (status ${r.status}); running the previous build in dist/`);
    return;
  }
  throw new Error(`npm run build failed (status ${r.status}) and there is no dist/cli.js to run`);
}
