/**
 * vitest globalSetup for the `integration` and `acceptance` projects: runs once in the main
 * vitest process before any test file. It only checks (and as root installs) the system
 * programs; servers are started per test file through `test/support/harness.ts`.
 */
import { ensureSystemDeps } from './system-deps.js';

export default function setup(): void {
  ensureSystemDeps();
}
