/**
 * The `tls` blocks of memshift.yml: a pool's `tls` and a migration's `from_tls` (TLS to memcached
 * servers), and a listener's `tls` (a client `listen` entry, the admin API). Every file is read
 * when the config is: a bad one is reported at its field, with the config file's line.
 */
import { z } from 'zod';
import type { BackendTlsConfig, ListenerTlsConfig } from './types.js';
import { keyPairProblem, pemProblem } from './files.js';
import { addIssue, strictMap } from './schema-parts.js';

type PemField = readonly [key: string, path: string | undefined, kind: 'CERTIFICATE' | 'PRIVATE KEY'];

/** Each file's own problem at its field, then whether the key is the certificate's. */
function checkFiles(ctx: z.RefinementCtx, files: readonly PemField[], pair: readonly [cert: string | undefined, key: string | undefined]): void {
  let bad = false;
  for (const [key, path, kind] of files) {
    const problem = path === undefined ? null : pemProblem(path, kind);
    if (problem !== null) addIssue(ctx, [key], problem);
    bad ||= problem !== null;
  }
  const [cert, key] = pair;
  const mismatch = bad || cert === undefined || key === undefined ? null : keyPairProblem(cert, key);
  if (mismatch !== null) addIssue(ctx, ['key_file'], mismatch);
}

/** A pool's `tls` (and a migration's `from_tls`): TLS to its memcached servers. */
export const backendTls = strictMap({
  ca_file: z.string().min(1).optional(),
  cert_file: z.string().min(1).optional(),
  key_file: z.string().min(1).optional(),
  server_name: z.string().min(1).optional(),
  verify: z.boolean().default(true),
}).superRefine((t, ctx) => {
  if ((t.cert_file === undefined) !== (t.key_file === undefined)) {
    addIssue(ctx, [t.cert_file === undefined ? 'cert_file' : 'key_file'], 'cert_file and key_file go together (a client certificate and its key)');
  }
  checkFiles(ctx, [['ca_file', t.ca_file, 'CERTIFICATE'], ['cert_file', t.cert_file, 'CERTIFICATE'], ['key_file', t.key_file, 'PRIVATE KEY']], [t.cert_file, t.key_file]);
});

export function toBackendTls(t: z.output<typeof backendTls>): BackendTlsConfig {
  return {
    ...(t.ca_file === undefined ? {} : { caFile: t.ca_file }),
    ...(t.cert_file === undefined ? {} : { certFile: t.cert_file }),
    ...(t.key_file === undefined ? {} : { keyFile: t.key_file }),
    ...(t.server_name === undefined ? {} : { serverName: t.server_name }),
    verify: t.verify,
  };
}

/** A listener's `tls`: its certificate and key; client_ca_file makes client certificates required. */
export const listenerTls = strictMap({
  cert_file: z.string().min(1),
  key_file: z.string().min(1),
  client_ca_file: z.string().min(1).optional(),
}).superRefine((t, ctx) => {
  checkFiles(ctx, [['cert_file', t.cert_file, 'CERTIFICATE'], ['key_file', t.key_file, 'PRIVATE KEY'], ['client_ca_file', t.client_ca_file, 'CERTIFICATE']], [t.cert_file, t.key_file]);
});

export function toListenerTls(t: z.output<typeof listenerTls>): ListenerTlsConfig {
  return { certFile: t.cert_file, keyFile: t.key_file, ...(t.client_ca_file === undefined ? {} : { clientCaFile: t.client_ca_file }) };
}
