import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
/** memshift's own version, from package.json. */
export const MEMSHIFT_VERSION: string = (require('../package.json') as { version: string }).version;
