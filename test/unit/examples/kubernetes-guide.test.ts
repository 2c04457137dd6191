/**
 * examples/kubernetes/README.md, the guide (issue 14: it ran `npx memshift` on a laptop, which fetches
 * whatever the npm registry has under that name): it runs memshift's commands in the sidecar with
 * `kubectl exec` (the image's own `node dist/cli.js`) or with this repository's CLI over a
 * port-forward. Every such command line names a real command and only options that command takes,
 * and every file it passes with -c is the one the Deployment mounts (or one it copies in first).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { COMMANDS } from '../../../src/cli.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const guide = readFileSync(`${ROOT}examples/kubernetes/README.md`, 'utf8');

/** Every `node dist/cli.js ...` command line of the guide, with its continuation lines joined. */
function commandLines(text: string): string[][] {
  const joined = text.replace(/\n\s+(?=[^\s`])/g, ' ');
  // A shell substitution ("$(kubectl ...)") is a value, not memshift's options: the line ends before it.
  return [...joined.matchAll(/node dist\/cli\.js ([^`\n#]+)/g)].map((m) => m[1]!.replace(/"?\$\(.*$/, '').trim().split(/\s+/));
}

describe('examples/kubernetes/README.md', () => {
  it('never runs npx memshift (only says not to)', () => {
    const uses = guide.split('\n').filter((l) => /npx memshift/.test(l) && !/never `npx memshift`/.test(l));
    expect(uses).toEqual([]);
  });

  it('runs only real commands with options they take', () => {
    const lines = commandLines(guide);
    expect(lines.length).toBeGreaterThan(10);
    const used = new Set<string>();
    for (const [name, ...args] of lines) {
      const command = COMMANDS.find((c) => c.name === name);
      expect(command, `memshift ${name}`).toBeDefined();
      used.add(name!);
      for (const flag of args.filter((a) => /^--?[a-z]/.test(a))) expect(command!.help, `memshift ${name} ${flag}`).toContain(flag.replace(/=.*$/, ''));
    }
    expect([...used]).toEqual(expect.arrayContaining(['check', 'plan', 'migrate', 'health', 'version']));
  });

  it('passes with -c the config file the Deployment mounts', () => {
    const docs = parseAllDocuments(readFileSync(`${ROOT}examples/kubernetes/deployment.yaml`, 'utf8')).map((d) => d.toJS() as Record<string, unknown>);
    const deployment = docs.find((d) => d.kind === 'Deployment') as { spec: { template: { spec: { initContainers: { name: string; args?: string[] }[] } } } };
    const args = deployment.spec.template.spec.initContainers.find((c) => c.name === 'memshift')?.args ?? [];
    const mounted = args[args.indexOf('-c') + 1];
    expect(mounted).toBe('/etc/memshift/memshift.yml');
    // Or a file the guide copies into the sidecar first (kubectl cp FILE POD:/path).
    const copied = [...guide.matchAll(/kubectl cp \S+ \S+:(\/\S+)/g)].map((m) => m[1]!);
    for (const line of commandLines(guide)) {
      const i = line.indexOf('-c');
      if (i >= 0 && line[i + 1]!.startsWith('/')) expect([mounted, ...copied]).toContain(line[i + 1]);
    }
  });
});
