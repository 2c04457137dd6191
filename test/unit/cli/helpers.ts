import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/cli.js';
import type { CliIo } from '../../../src/cli/common.js';

export interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `memshift ...argv` in-process and captures what it prints. */
export async function run(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { out: (t) => void (stdout += t), err: (t) => void (stderr += t), env };
  const status = await main(argv, io);
  return { status, stdout, stderr };
}

/** A temporary directory for config files; `cleanup()` removes it. */
export function tempConfigs(): { write(name: string, text: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'memshift-cli-'));
  return {
    write(name, text) {
      const file = join(dir, name);
      writeFileSync(file, text);
      return file;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export const DEMO = `listen: ["127.0.0.1:22122", {path: /tmp/memshift-test.sock, mode: "0660"}]
pools:
  main:
    servers: ["10.0.0.1:11211:1", "10.0.0.2:11211:1 node-b", "10.0.0.3:11212:2"]
    hash_tag: "{}"
  sessions:
    servers: ["10.0.1.1:11211", "10.0.1.2:11211"]
    hash: md5
    distribution: node-memcached
routes: [{prefix: "session:", pool: sessions}]
default_pool: main
`;
