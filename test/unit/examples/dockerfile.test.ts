/**
 * The repository's Dockerfile, as the Kubernetes example (examples/kubernetes/deployment.yaml) relies
 * on it: dockerfile-utils finds no error in it, it is a multi-stage build on slim Node 20 images,
 * it runs as a user that is not root, has a HEALTHCHECK that runs `memshift health` (no port written
 * in the image), and its ENTRYPOINT runs dist/cli.js (the
 * manifest passes only `serve -c FILE` as args). Each check is also run on broken variants, so a
 * check that can no longer fail is noticed.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validate } from 'dockerfile-utils';

const DOCKERFILE = fileURLToPath(new URL('../../../Dockerfile', import.meta.url));
const content = readFileSync(DOCKERFILE, 'utf8');

// LSP DiagnosticSeverity (vscode-languageserver-types): 1 Error, 2 Warning, 3 Information, 4 Hint.
const SEVERITY: Record<number, string> = { 1: 'error', 2: 'warning', 3: 'information', 4: 'hint' };
const ERROR = 1;

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** The instructions, with continuation lines joined and comments dropped (the default `\` escape). */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const first = i + 1;
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = lines[i]!.trim();
      if (next.startsWith('#')) continue;
      line = `${line.slice(0, -1).trimEnd()} ${next}`;
    }
    const m = /^(\S+)\s*(.*)$/.exec(line)!;
    out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: first });
  }
  return out;
}

const of = (text: string, keyword: string): Instruction[] => instructions(text).filter((i) => i.keyword === keyword);

/** Each check returns the problems it finds; none means it passes. */
function multiStage(text: string): string[] {
  const froms = of(text, 'FROM').map((i) => i.args.split(/\s+/));
  const problems: string[] = [];
  if (froms.length < 2) problems.push(`expected at least two FROM (a build stage and the runtime), got ${froms.length}`);
  for (const [image] of froms) {
    if (!/^node:20(\.[\d.]+)?(-[a-z]+)?-slim(@sha256:[0-9a-f]{64})?$/.test(image ?? '')) problems.push(`FROM ${image}: expected a node:20…-slim image`);
  }
  const first = froms[0] ?? [];
  const stage = first.length === 3 && first[1]!.toUpperCase() === 'AS' ? first[2] : undefined;
  if (stage === undefined) problems.push('the first stage has no name (FROM IMAGE AS NAME)');
  else if (!of(text, 'COPY').some((i) => i.args.includes(`--from=${stage}`))) problems.push(`no COPY --from=${stage}`);
  return problems;
}

function nonRootUser(text: string): string[] {
  const user = of(text, 'USER').at(-1);
  if (user === undefined) return ['no USER: the container runs as root'];
  const name = user.args.split(':')[0]!;
  if (name === 'root' || name === '0') return [`USER ${user.args} is root`];
  const lastFrom = of(text, 'FROM').at(-1);
  if (lastFrom !== undefined && user.line < lastFrom.line) return ['the USER is not in the final stage'];
  return [];
}

/** One HEALTHCHECK, exec form, running `dist/cli.js health` (it reads the config: no port written in the image). */
function healthcheck(text: string): string[] {
  const checks = of(text, 'HEALTHCHECK');
  if (checks.length !== 1) return [`expected one HEALTHCHECK, got ${checks.length}`];
  const cmd = /\bCMD\s+(.*)$/.exec(checks[0]!.args)?.[1];
  if (cmd === undefined) return [`HEALTHCHECK ${checks[0]!.args}: no CMD`];
  let argv: unknown;
  try {
    argv = JSON.parse(cmd);
  } catch {
    return [`HEALTHCHECK CMD ${cmd}: not the exec (JSON) form`];
  }
  if (!Array.isArray(argv) || argv[0] !== 'node' || !/(^|\/)dist\/cli\.js$/.test(String(argv[1])) || argv[2] !== 'health') return [`HEALTHCHECK CMD ${cmd}: expected ["node", "dist/cli.js", "health", ...]`];
  return /\b\d{4,5}\b/.test(cmd) ? [`HEALTHCHECK CMD ${cmd}: a port is written in it`] : [];
}

function entrypoint(text: string): string[] {
  const entry = of(text, 'ENTRYPOINT').at(-1);
  if (entry === undefined) return ['no ENTRYPOINT'];
  let argv: unknown;
  try {
    argv = JSON.parse(entry.args);
  } catch {
    return [`ENTRYPOINT ${entry.args}: not the exec (JSON) form, so signals would go to a shell`];
  }
  if (!Array.isArray(argv) || argv[0] !== 'node') return [`ENTRYPOINT ${entry.args}: expected ["node", ...]`];
  return argv.some((a) => typeof a === 'string' && /(^|\/)dist\/cli\.js$/.test(a)) ? [] : [`ENTRYPOINT ${entry.args}: does not run dist/cli.js`];
}

describe('Dockerfile', () => {
  it('has no error diagnostics from dockerfile-utils (warnings are printed)', () => {
    const diagnostics = validate(content);
    for (const d of diagnostics) {
      console.log(`Dockerfile:${d.range.start.line + 1}:${d.range.start.character + 1} ${SEVERITY[d.severity ?? ERROR] ?? String(d.severity)}: ${d.message}`);
    }
    expect(diagnostics.filter((d) => (d.severity ?? ERROR) === ERROR).map((d) => `line ${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
  });

  it('is a multi-stage build on slim Node 20 images', () => {
    expect(multiStage(content)).toEqual([]);
  });

  it('runs as a user that is not root', () => {
    expect(nonRootUser(content)).toEqual([]);
  });

  it('has a HEALTHCHECK', () => {
    expect(healthcheck(content)).toEqual([]);
  });

  it('has an ENTRYPOINT that runs dist/cli.js with node (exec form)', () => {
    expect(entrypoint(content)).toEqual([]);
  });

  const swap = (from: RegExp, to: string): string => {
    expect(content).toMatch(from);
    return content.replace(from, to);
  };
  const firstFrom = of(content, 'FROM')[0]?.line ?? 0;
  const oneStage = content
    .split('\n')
    .map((line, i) => (i + 1 > firstFrom && /^FROM\s/i.test(line) ? '# (stage removed)' : line))
    .join('\n');
  it.each([
    ['one stage', () => multiStage(oneStage)],
    ['a full image', () => multiStage(swap(/^(FROM \S+)-slim\b/gm, '$1'))],
    ['USER root', () => nonRootUser(swap(/^USER .*$/gm, 'USER root'))],
    ['no USER', () => nonRootUser(swap(/^USER .*$/gm, ''))],
    ['no HEALTHCHECK', () => healthcheck(swap(/^HEALTHCHECK/gm, '# HEALTHCHECK'))],
    ['a HEALTHCHECK on a fixed port', () => healthcheck(swap(/CMD \[.*\]$/m, `CMD node -e "require('net').connect(11211,'127.0.0.1')"`))],
    ['a HEALTHCHECK that is not memshift health', () => healthcheck(swap(/CMD \[.*\]$/m, 'CMD ["node", "dist/cli.js", "check"]'))],
    ['a shell-form ENTRYPOINT', () => entrypoint(swap(/^ENTRYPOINT .*$/gm, 'ENTRYPOINT node dist/cli.js'))],
    ['an ENTRYPOINT without dist/cli.js', () => entrypoint(swap(/^ENTRYPOINT .*$/gm, 'ENTRYPOINT ["node", "server.js"]'))],
    ['a broken instruction', () => validate(`${content}\nEXPOSE eleven\n`).filter((d) => (d.severity ?? ERROR) === ERROR).map((d) => d.message)],
  ])('the checks catch %s', (_name, problems) => {
    expect(problems().length).toBeGreaterThan(0);
  });
});
