/**
 * `memshift health`: is the memshift of this config (-c FILE or $MEMSHIFT_CONFIG) serving? For a
 * container's HEALTHCHECK or an exec probe, run beside it. With an admin listener it asks `GET /readyz`
 * (on loopback when the listener is on every address; over HTTPS without checking the certificate:
 * it is memshift's own listener, and no token is sent); without one, or when the admin API wants a
 * client certificate, it sends `version` to the first client listener that takes plain connections.
 * Exit 0: ready; 1: it answers but is not ready (starting, draining); 69: nothing answers in time.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Config, ListenSpec } from '../config/types.js';
import { formatHostPort } from '../config/address.js';
import { parseDuration } from '../config/index.js';
import { type CliIo, type Command, CONFIG_HELP, CONFIG_OPTION, EXIT, HELP_OPTION, loadConfigFor, parseCommandArgs, usageError } from './common.js';

const HELP = `Usage: memshift health [-c FILE] [--timeout DURATION]

Says whether the memshift running with this config is serving, for a container HEALTHCHECK or an
exec probe run beside it. With an admin listener: GET /readyz on it (127.0.0.1 when it listens on
every address; HTTPS without checking the certificate, no token sent). Without one (or when the
admin API requires client certificates): "version" to the first client listener that takes plain
connections (TCP or unix socket).

Options:
${CONFIG_HELP}
      --timeout DURATION  how long to wait for the answer (default 2s)
  -h, --help              show this help

Exit statuses: 0 ready; 1 answering but not ready (starting, or draining at shutdown);
64 usage; 66 the config cannot be read; 69 nothing answered in time; 78 bad config.
`;

type Verdict = { ready: boolean; what: string };

/** An address to connect to for a listener bound to `host` (every address: loopback). */
function reachable(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host;
}

function readyz(config: Config, timeoutMs: number): Promise<Verdict> {
  const a = config.admin!;
  const host = reachable(a.host);
  const where = `${a.tls === undefined ? 'http' : 'https'}://${formatHostPort(host, a.port)}/readyz`;
  return new Promise((resolve, reject) => {
    const options = { host, port: a.port, path: '/readyz', timeout: timeoutMs, ...(a.tls === undefined ? {} : { rejectUnauthorized: false }) };
    const req = (a.tls === undefined ? http : https).get(options, (res) => {
      res.resume();
      res.on('end', () => resolve({ ready: res.statusCode === 200, what: `${where}: ${res.statusCode ?? '?'}` }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(new Error(`${where}: ${err.message}`)));
  });
}

function version(l: ListenSpec, timeoutMs: number): Promise<Verdict> {
  const where = l.kind === 'unix' ? `unix:${l.path}` : formatHostPort(reachable(l.host), l.port);
  return new Promise((resolve, reject) => {
    const socket =
      l.kind === 'unix'
        ? net.connect({ path: l.path })
        : l.tls !== undefined
          ? tls.connect({ host: reachable(l.host), port: l.port, rejectUnauthorized: false })
          : net.connect({ host: reachable(l.host), port: l.port });
    let reply = '';
    const done = (err: Error | null, verdict?: Verdict): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err !== null) reject(new Error(`${where}: ${err.message}`));
      else resolve(verdict!);
    };
    const timer = setTimeout(() => done(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.once(l.kind === 'tcp' && l.tls !== undefined ? 'secureConnect' : 'connect', () => socket.write('version\r\n'));
    socket.on('data', (d: Buffer) => {
      reply += d.toString('latin1');
      if (reply.includes('\r\n')) done(null, { ready: reply.startsWith('VERSION '), what: `${where}: ${reply.trim()}` });
    });
    socket.on('error', (err) => done(err));
    socket.on('close', () => done(new Error('closed without an answer')));
  });
}

export async function runHealth(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('health', args, { ...CONFIG_OPTION, ...HELP_OPTION, timeout: { type: 'string' } });
  if (values.help === true) {
    io.out(HELP);
    return EXIT.OK;
  }
  let timeoutMs = 2_000;
  if (values.timeout !== undefined) {
    const d = parseDuration(values.timeout);
    if (!d.ok || d.value <= 0) throw usageError('health', `--timeout must be a duration such as 2s, got "${values.timeout}"`);
    timeoutMs = d.value;
  }
  const config = loadConfigFor('health', values.config, io);
  const listener = config.listen.find((l) => l.kind === 'unix' || l.tls?.clientCaFile === undefined);
  const admin = config.admin !== undefined && config.admin.tls?.clientCaFile === undefined;
  if (!admin && listener === undefined) throw usageError('health', 'no listener to ask: the admin API and every client listener require a client certificate');
  try {
    const verdict = admin ? await readyz(config, timeoutMs) : await version(listener!, timeoutMs);
    io.out(`${verdict.ready ? 'ready' : 'not ready'}: ${verdict.what}\n`);
    return verdict.ready ? EXIT.OK : EXIT.FAILURE;
  } catch (err) {
    io.err(`memshift health: unavailable: ${(err as Error).message}\n`);
    return EXIT.UNAVAILABLE;
  }
}

export const healthCommand: Command = {
  name: 'health',
  summary: 'say whether the memshift of this config is serving (for HEALTHCHECK)',
  help: HELP,
  run: runHealth,
};
