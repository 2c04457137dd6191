/**
 * The folders of src/ import one way. Each folder is a node (a top-level file is its own node, but
 * src/cli.ts belongs with src/cli/); a relative import from one folder into another is an edge, type
 * imports included. The graph has no cycle, and only the command (cli/, cli.ts) imports the
 * assembly (app/: the proxy server, its generations, reload, the admin endpoints and the metrics).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

interface Edge {
  from: string;
  to: string;
  /** The file that imports, relative to the repository (src/...). */
  file: string;
}

/**
 * Import edges known to close a cycle, left out of the graph until the change that removes them
 * lands. Each names the one file whose import is excused; the same folders imported from any other
 * file still count. Delete an entry when its import goes (a test below says when).
 */
const KNOWN_CYCLES: readonly (Edge & { why: string })[] = [];

/** The node of a path relative to src/: its first folder, or a top-level file's name (cli.ts is cli). */
const nodeOf = (rel: string): string => {
  const [first] = rel.split(sep);
  return first!.replace(/\.(ts|js)$/, '');
};

/** import … from, export … from, import '…' and import('…'), single or double quotes. */
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+)\1/g;

function importEdges(): Edge[] {
  const files = (readdirSync(SRC, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
  const edges: Edge[] = [];
  for (const rel of files) {
    const from = nodeOf(rel);
    // Comment lines are skipped: a doc comment may show an import as an example.
    const code = readFileSync(join(SRC, rel), 'utf8')
      .split('\n')
      .filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line))
      .join('\n');
    for (const m of code.matchAll(IMPORT)) {
      const target = relative(SRC, resolve(dirname(join(SRC, rel)), m[2]!));
      if (target.startsWith('..')) continue;
      const to = nodeOf(target);
      if (to !== from) edges.push({ from, to, file: `src/${rel.split(sep).join('/')}` });
    }
  }
  return edges;
}

const isKnown = (e: Edge): boolean => KNOWN_CYCLES.some((k) => k.from === e.from && k.to === e.to && k.file === e.file);

/** Each folder's imported folders, with the files that import them. */
function graph(edges: readonly Edge[]): Map<string, Map<string, Set<string>>> {
  const g = new Map<string, Map<string, Set<string>>>();
  for (const e of edges) {
    if (!g.has(e.from)) g.set(e.from, new Map());
    if (!g.has(e.to)) g.set(e.to, new Map());
    const out = g.get(e.from)!;
    if (!out.has(e.to)) out.set(e.to, new Set());
    out.get(e.to)!.add(e.file);
  }
  return g;
}

/** Every cycle found by a depth-first walk (one per back edge), as folder lists a → b → … → a. */
function cycles(g: Map<string, Map<string, Set<string>>>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    path.push(node);
    for (const next of [...g.get(node)!.keys()].sort()) {
      if (state.get(next) === 'open') found.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of [...g.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

/** A cycle and the files behind each of its edges, for the failure message. */
function describeCycle(g: Map<string, Map<string, Set<string>>>, cycle: readonly string[]): string {
  const lines = [cycle.join(' → ')];
  for (let i = 0; i + 1 < cycle.length; i++) {
    const files = [...g.get(cycle[i]!)!.get(cycle[i + 1]!)!].sort();
    lines.push(`  ${cycle[i]} → ${cycle[i + 1]}: ${files.join(', ')}`);
  }
  return lines.join('\n');
}

describe('src/ folder imports', () => {
  const edges = importEdges();

  it('finds the imports (the scan is not empty)', () => {
    expect(edges.length).toBeGreaterThan(50);
    expect(edges.some((e) => e.from === 'cli' && e.to === 'app')).toBe(true);
  });

  it('form no cycle between folders', () => {
    const g = graph(edges.filter((e) => !isKnown(e)));
    const found = cycles(g).map((c) => describeCycle(g, c));
    expect(found, `folder import cycles:\n${found.join('\n')}`).toEqual([]);
  });

  it('reach the assembly (app/) only from the command (cli/, cli.ts)', () => {
    const wrong = edges.filter((e) => e.to === 'app' && e.from !== 'cli').map((e) => `${e.file} imports app/`);
    expect(wrong).toEqual([]);
  });

  it('still need each KNOWN_CYCLES exception (delete it once its import is gone)', () => {
    for (const k of KNOWN_CYCLES) expect(edges.some((e) => e.from === k.from && e.to === k.to && e.file === k.file), `${k.file} no longer imports ${k.to}/: delete its KNOWN_CYCLES entry (${k.why})`).toBe(true);
  });
});
