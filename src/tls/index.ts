/**
 * TLS: to memcached servers (to-servers.ts: a pool's `tls`, a migration's `from_tls`) and on
 * memshift's own listeners (listener.ts: a client `listen` entry's `tls`, the admin API's).
 */
export { keepTlsSession, onTlsReloadError, secureContext, tlsConnectOptions } from './to-servers.js';
export { listenerContextOptions, listenerServerOptions, rotateListenerTls, TLS_FILE_CHECK_MS, TLS_HANDSHAKE_TIMEOUT_MS } from './listener.js';
