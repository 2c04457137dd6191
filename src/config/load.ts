/**
 * Reads memshift.yml: YAML (with positions), then the one schema, then a deep-frozen Config. Every
 * problem is collected and thrown at once as a ConfigError (MS_ERR_CONFIG), each with file:line:column.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { MemshiftError } from '../errors.js';
import type { Config } from './types.js';
import { configSchema } from './schema.js';
import { deepFreeze } from './freeze.js';
import { ConfigError, byPosition, schemaIssue, yamlIssue } from './issues.js';

/** The environment variable that names the config file when no `-c` is given. */
export const CONFIG_ENV = 'MEMSHIFT_CONFIG';

/** Parses and validates a config text; `sourceName` is used in error messages and as `Config.source`. */
export function parseConfig(text: string, sourceName = '<config>'): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true, merge: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(sourceName, doc.errors.map((e) => yamlIssue(sourceName, e)).sort(byPosition));
  }
  const data: unknown = doc.toJS({ maxAliasCount: 1000 });
  const result = configSchema.safeParse(data, { reportInput: true });
  if (!result.success) {
    const issues = result.error.issues.map((i) => schemaIssue(sourceName, doc, lineCounter, i));
    throw new ConfigError(sourceName, issues.sort(byPosition));
  }
  return deepFreeze({ ...result.data, source: sourceName });
}

/** The config path: the explicit one, else $MEMSHIFT_CONFIG; a usage error when there is neither. */
export function resolveConfigPath(path?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = path ?? env[CONFIG_ENV];
  if (chosen === undefined || chosen === '') {
    throw new MemshiftError('MS_ERR_USAGE', `no config file: pass -c FILE or set ${CONFIG_ENV}`);
  }
  return chosen;
}

/** Reads, parses and validates a config file (default: $MEMSHIFT_CONFIG). */
export function loadConfigFile(path?: string): Config {
  const file = resolveConfigPath(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new MemshiftError('MS_ERR_CONFIG_READ', `cannot read config file ${file}: ${reason}`, { cause: err });
  }
  return parseConfig(text, file);
}
