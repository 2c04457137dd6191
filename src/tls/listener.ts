/**
 * TLS on memshift's own listeners (a client `listen` entry's `tls`, the admin API's): the server
 * options, and rotation. Every second the files' mtimes and sizes are compared with those read; when
 * they changed (a Kubernetes Secret swapped in place), the new material is checked and installed with
 * `setSecureContext`: new connections get it, established ones keep theirs. Material that cannot be
 * used (unreadable, no PEM block, expired, a key that is not the certificate's) is refused: the
 * listener keeps what it had, `onReloadError` says why once per change, and it is tried again.
 */
import { readFileSync } from 'node:fs';
import type tls from 'node:tls';
import type { ListenerTlsConfig } from '../config/types.js';
import { fileStamp } from '../config/secret-file.js';
import { keyPairProblem, pemProblem } from '../config/files.js';

/** How often the files are looked at for a change. */
export const TLS_FILE_CHECK_MS = 1_000;
/** A client that has not finished its handshake by then is disconnected. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

const filesOf = (c: ListenerTlsConfig): string[] => [c.certFile, c.keyFile, ...(c.clientCaFile === undefined ? [] : [c.clientCaFile])];
const stampOf = (c: ListenerTlsConfig): string => filesOf(c).map((f) => `${f}:${fileStamp(f)}`).join('|');

/** The key, certificate and client CAs of `c`; throws saying which file is wrong. */
export function listenerContextOptions(c: ListenerTlsConfig): tls.SecureContextOptions {
  const problem =
    pemProblem(c.certFile, 'CERTIFICATE') ??
    pemProblem(c.keyFile, 'PRIVATE KEY') ??
    (c.clientCaFile === undefined ? null : pemProblem(c.clientCaFile, 'CERTIFICATE')) ??
    keyPairProblem(c.certFile, c.keyFile);
  if (problem !== null) throw new Error(`tls: ${problem}`);
  return { cert: readFileSync(c.certFile), key: readFileSync(c.keyFile), ...(c.clientCaFile === undefined ? {} : { ca: readFileSync(c.clientCaFile) }) };
}

/** The options of a `tls.Server` (or `https.Server`) for `c`: client certificates required when it has client CAs. */
export function listenerServerOptions(c: ListenerTlsConfig): tls.TlsOptions {
  const mutual = c.clientCaFile !== undefined;
  return { ...listenerContextOptions(c), requestCert: mutual, rejectUnauthorized: mutual, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS };
}

/** Installs changed files on `server` as they change; returns the function that stops watching. */
export function rotateListenerTls(server: tls.Server, c: ListenerTlsConfig, onReloadError: (err: Error) => void, onReloaded: () => void = () => undefined): () => void {
  let applied = stampOf(c);
  // Files that cannot be used are tried again every second (a rotation may be caught half done:
  // a new certificate beside the old key), and said once per change.
  let refused = '';
  const timer = setInterval(() => {
    const now = stampOf(c);
    if (now === applied) return;
    try {
      server.setSecureContext(listenerContextOptions(c));
      applied = now;
      onReloaded();
    } catch (err) {
      if (now !== refused) onReloadError(err as Error);
      refused = now;
    }
  }, TLS_FILE_CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
