/**
 * Turns YAML syntax errors and schema issues into `file:line:column field: what is wrong`, e.g.
 *
 *   memshift.yml:7:9 pools.main.servers[1]: weight must be a positive integer, got "x"
 *
 * The field path of a zod issue is walked through the YAML document to find the node it names; an
 * unknown key points at the key itself, a missing one at the map that should hold it.
 */
import { type Document, type LineCounter, isAlias, isMap, isNode, isPair, isScalar, isSeq, type YAMLError } from 'yaml';
import type { z } from 'zod';
import { MemshiftError } from '../errors.js';
import { describe } from './units.js';
import { closestName } from './did-you-mean.js';

export interface ConfigIssue {
  /** The file name (or the source name given to parseConfig). */
  readonly source: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  /** The field, e.g. `pools.main.servers[1]`; empty for the file as a whole. */
  readonly path: string;
  readonly message: string;
}

export interface ConfigErrorDetails {
  readonly issues: readonly ConfigIssue[];
}

/** Thrown by parseConfig/loadConfigFile: code MS_ERR_CONFIG, every issue in `issues` (and `details.issues`). */
export class ConfigError extends MemshiftError<ConfigErrorDetails> {
  override readonly name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];

  constructor(source: string, issues: readonly ConfigIssue[]) {
    const n = issues.length;
    const list = issues.map((i) => `  ${formatIssue(i)}`).join('\n');
    super('MS_ERR_CONFIG', `invalid configuration in ${source} (${n} problem${n === 1 ? '' : 's'}):\n${list}`, { details: { issues } });
    this.issues = issues;
  }
}

export function formatIssue(issue: ConfigIssue): string {
  const where = `${issue.source}:${issue.line}:${issue.column}`;
  return issue.path === '' ? `${where}: ${issue.message}` : `${where} ${issue.path}: ${issue.message}`;
}

/** `pools.main.servers[1]`; keys that are not plain words are quoted: `pools["a.b"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(String(seg))) out += out === '' ? String(seg) : `.${String(seg)}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

export function yamlIssue(source: string, err: YAMLError): ConfigIssue {
  const pos = err.linePos?.[0] ?? { line: 1, col: 1 };
  const firstLine = (err.message.split('\n')[0] ?? err.message).replace(/ at line \d+, column \d+:?$/, '');
  return { source, line: pos.line, column: pos.col, path: '', message: `YAML: ${firstLine}` };
}

export function schemaIssue(source: string, doc: Document, lc: LineCounter, issue: z.core.$ZodIssue): ConfigIssue {
  const atKey = issue.code === 'invalid_key' || isUnknownKey(issue);
  const { line, col } = lc.linePos(offsetOf(doc, issue.path, atKey));
  return { source, line, column: col, path: formatPath(issue.path), message: messageOf(issue) };
}

/** Sorts issues top to bottom, as an operator reads the file. */
export function byPosition(a: ConfigIssue, b: ConfigIssue): number {
  return a.line - b.line || a.column - b.column;
}

function isUnknownKey(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'custom' && issue.params?.unknownKey === true;
}

function messageOf(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'custom':
      if (isUnknownKey(issue)) return unknownKeyMessage(issue);
      return issue.message;
    case 'invalid_type':
      if (input === undefined) return 'required setting is missing';
      if (issue.path.length > 0) return `expected ${typeName(issue.expected)}, got ${describe(input)}`;
      return input === null ? 'the file is empty' : `the file must hold a map of settings, got ${describe(input)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(input)}`;
    case 'invalid_key':
      return issue.issues[0]?.message ?? issue.message;
    default:
      return issue.message;
  }
}

function unknownKeyMessage(issue: z.core.$ZodIssue): string {
  const key = String(issue.path[issue.path.length - 1] ?? '');
  const known = (issue as { params?: { known?: string[] } }).params?.known ?? [];
  const close = closestName(key, known);
  if (close !== undefined) return `unknown key "${key}"; did you mean "${close}"?`;
  return `unknown key "${key}"; expected one of ${known.map((k) => `"${k}"`).join(', ')}`;
}

function typeName(expected: string): string {
  switch (expected) {
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list';
    case 'object':
    case 'record':
    case 'map':
      return 'a map';
    case 'number':
      return 'a number';
    case 'string':
      return 'a string';
    default:
      return expected;
  }
}


/**
 * The source offset a field path points at. Walks maps and sequences (through aliases); stops at the
 * deepest node that exists, so a missing key is reported at the key of the map that lacks it.
 */
function offsetOf(doc: Document, path: readonly PropertyKey[], atKey: boolean): number {
  let node: unknown = doc.contents;
  let offset = startOf(node) ?? 0;
  let parentKey: number | undefined;
  for (let i = 0; i < path.length; i++) {
    if (isAlias(node)) node = node.resolve(doc);
    const seg = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
      if (pair === undefined) return parentKey ?? offset;
      const keyStart = startOf(pair.key) ?? offset;
      parentKey = keyStart;
      if (atKey && i === path.length - 1) return keyStart;
      node = pair.value;
      // An empty value (`servers:`) has no useful position of its own: point at its key.
      offset = isScalar(node) && node.value === null ? keyStart : (startOf(node) ?? keyStart);
    } else if (isSeq(node) && typeof seg === 'number') {
      const item: unknown = node.items[seg];
      const start = startOf(item);
      if (start === undefined) break;
      node = item;
      offset = start;
      parentKey = start;
    } else {
      break;
    }
  }
  return offset;
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

function startOf(node: unknown): number | undefined {
  return isNode(node) && node.range ? node.range[0] : undefined;
}
