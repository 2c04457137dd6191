import { readFileSync } from 'node:fs';
import { type Command, EXIT, HELP_OPTION, parseCommandArgs } from './common.js';

/** memshift's version from package.json (one level above both src/cli and dist/cli). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

const HELP = `Usage: memshift version [--json]

Prints memshift's version (as -V and --version do); with --json, also Node's and the platform.

Options:
      --json   {"memshift": VERSION, "node": VERSION, "platform": "linux-x64"}
  -h, --help   show this help
`;

export const versionCommand: Command = {
  name: 'version',
  summary: "print memshift's version",
  help: HELP,
  run(args, io) {
    const { values } = parseCommandArgs('version', args, { ...HELP_OPTION, json: { type: 'boolean' } });
    if (values.help === true) io.out(HELP);
    else if (values.json === true) io.out(`${JSON.stringify({ memshift: packageVersion(), node: process.versions.node, platform: `${process.platform}-${process.arch}` })}\n`);
    else io.out(`memshift ${packageVersion()}\n`);
    return Promise.resolve(EXIT.OK);
  },
};
