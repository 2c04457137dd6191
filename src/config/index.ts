export type * from './types.js';
export { CONFIG_ENV, loadConfigFile, parseConfig, resolveConfigPath } from './load.js';
export { ConfigError, type ConfigErrorDetails, type ConfigIssue, formatIssue } from './issues.js';
export { DEFAULTS, configSchema } from './schema.js';
export { parseServerSpec, SERVER_FORMAT } from './server-spec.js';
export { parseListenString, parseSocketMode } from './listen.js';
export { parseDuration, parseSize } from './units.js';
export { formatHostPort, type Parsed } from './address.js';
export { secretFile } from './secret-file.js';
