/**
 * TLS from memshift to memcached servers (a pool's `tls`, config/types.ts BackendTlsConfig): the
 * options every TLS connection is opened with (dial.ts). The PEM files are read when a connection
 * is opened and they changed since the last read (a Kubernetes Secret swapped in place): new
 * connections use the new material, established ones keep theirs. A file that cannot be read or
 * parsed keeps the material read before, says so once per change, and is tried again at the next
 * connect; without any, the connect fails with the file's name.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import tls from 'node:tls';
import type { BackendTlsConfig } from '../config/types.js';
import { fileStamp } from '../config/secret-file.js';

interface Loaded {
  /** The files' mtimes and sizes when read. */
  readonly stamp: string;
  readonly context: tls.SecureContext;
  /** The stamp of files that could not be used (said once; tried again at each connect). */
  readonly refused?: string;
}

const loaded = new WeakMap<BackendTlsConfig, Loaded>();

const files = (c: BackendTlsConfig): string[] => [c.caFile, c.certFile, c.keyFile].filter((f): f is string => f !== undefined);

const stampOf = (c: BackendTlsConfig): string => files(c).map((f) => `${f}:${fileStamp(f)}`).join('|');

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`tls ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

/** The secure context of `c`, read again when its files changed; throws naming the file when none can be made. */
export function secureContext(c: BackendTlsConfig): tls.SecureContext {
  const stamp = stampOf(c);
  const had = loaded.get(c);
  if (had !== undefined && had.stamp === stamp) return had.context;
  try {
    const ca = c.caFile === undefined ? undefined : read(c.caFile, 'ca_file');
    const cert = c.certFile === undefined ? undefined : read(c.certFile, 'cert_file');
    const key = c.keyFile === undefined ? undefined : read(c.keyFile, 'key_file');
    let context: tls.SecureContext;
    try {
      context = tls.createSecureContext({ ...(ca === undefined ? {} : { ca }), ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }) });
    } catch (err) {
      throw new Error(`tls ${files(c).join(', ')}: ${(err as Error).message}`, { cause: err });
    }
    loaded.set(c, { stamp, context });
    return context;
  } catch (err) {
    if (had === undefined) throw err;
    // Keep what worked; try again at the next connect (a rotation may have been caught half done).
    if (had.refused !== stamp) onBadReload?.(err as Error);
    loaded.set(c, { stamp: had.stamp, context: had.context, refused: stamp });
    return had.context;
  }
}

/** Told when changed files could not be used (the earlier material stays in use). */
let onBadReload: ((err: Error) => void) | undefined;
export function onTlsReloadError(f: (err: Error) => void): void {
  onBadReload = f;
}

/**
 * The last TLS session of each server, per settings, offered again on the next connect so that a
 * reconnect resumes it (an abbreviated handshake). Only once a throwaway connection has shown that
 * the server resumes it: memcached with ssl_verify_mode 1 or 3 sets no session id context, and
 * OpenSSL then fails the handshake of a resumed session ("internal error") instead of doing a full
 * one. Until that check, and for a server that fails it, every connect is a full handshake.
 */
interface Resumption {
  session?: Buffer;
  /** undefined: not known yet. */
  works?: boolean;
  checking: boolean;
}
const RESUMPTION_CHECK_TIMEOUT_MS = 5_000;
/**
 * By secure context: new TLS material (a rotated client certificate) makes a new context, and with
 * it full handshakes again; a resumed session would present the identity of the old certificate.
 */
const sessions = new WeakMap<tls.SecureContext, Map<string, Resumption>>();

function resumptionOf(ctx: tls.SecureContext, host: string, port: number): Resumption {
  let byServer = sessions.get(ctx);
  if (byServer === undefined) sessions.set(ctx, (byServer = new Map()));
  const key = `${host}:${port}`;
  let r = byServer.get(key);
  if (r === undefined) byServer.set(key, (r = { checking: false }));
  return r;
}

/** Keeps `socket`'s session (it was opened with `options`, from tlsConnectOptions) for the next connect (checking once that the server resumes it). */
export function keepTlsSession(socket: tls.TLSSocket, options: tls.ConnectionOptions): void {
  const { secureContext: ctx, host, port } = options;
  if (ctx === undefined || host === undefined || port === undefined) return;
  socket.on('session', (session: Buffer) => {
    const r = resumptionOf(ctx, host, port);
    r.session = session;
    if (r.works !== undefined || r.checking) return;
    r.checking = true;
    const { session: _offered, ...fresh } = options;
    const check = tls.connect({ ...fresh, session });
    const done = (works: boolean): void => {
      clearTimeout(timer);
      r.works = works;
      r.checking = false;
      check.destroy();
    };
    const timer = setTimeout(() => done(false), RESUMPTION_CHECK_TIMEOUT_MS);
    timer.unref();
    check.once('secureConnect', () => done(check.isSessionReused()));
    check.once('error', () => done(false));
  });
}

/** The options of a TLS connection to `host`:`port` under `c` (with the session to resume, when the server resumes sessions). */
export function tlsConnectOptions(c: BackendTlsConfig, host: string, port: number): tls.ConnectionOptions {
  const name = c.serverName ?? host;
  const ctx = secureContext(c);
  const r = sessions.get(ctx)?.get(`${host}:${port}`);
  return {
    host,
    port,
    secureContext: ctx,
    ...(r?.works === true && r.session !== undefined ? { session: r.session } : {}),
    // SNI carries a name, never an address; the certificate is still checked against the address.
    ...(isIP(name) === 0 ? { servername: name } : {}),
    ...(c.serverName === undefined ? {} : { checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(name, cert) }),
    rejectUnauthorized: c.verify,
  };
}
