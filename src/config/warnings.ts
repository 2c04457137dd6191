/**
 * What a valid config still does that an operator should know about, said by `memshift check` and
 * logged at every start and reload: TLS to servers without verification, a certificate that ends
 * within 14 days, an admin API on a non-loopback address without TLS or a token.
 */
import type { Config, PoolConfig, ServerSpec } from './types.js';
import { CERT_EXPIRY_WARNING_MS, certificateEnd } from './files.js';
import { formatHostPort, isLoopbackHost } from './address.js';

/** A certificate file the config names, and what it is for (a metric label, a warning's words). */
export interface CertificateFile {
  readonly file: string;
  readonly use: string;
}

/** Every server a pool connects to: its groups' and its migration's `from` servers. */
export function everyServer(pool: PoolConfig): ServerSpec[] {
  return [...pool.groups, ...(pool.migration?.from ?? [])].flatMap((g) => g.servers);
}

/** Every certificate file of `config`: server CAs and client certificates of each pool, listener and admin certificates. */
export function certificateFiles(config: Config): CertificateFile[] {
  const out = new Map<string, CertificateFile>();
  const add = (file: string | undefined, use: string): void => {
    if (file !== undefined && !out.has(file)) out.set(file, { file, use });
  };
  for (const pool of config.pools.values()) {
    for (const s of everyServer(pool)) {
      add(s.tls?.certFile, `pools.${pool.name} client certificate`);
      add(s.tls?.caFile, `pools.${pool.name} server CA`);
    }
  }
  for (const l of config.listen) {
    if (l.kind !== 'tcp' || l.tls === undefined) continue;
    add(l.tls.certFile, `listen ${l.raw} certificate`);
    add(l.tls.clientCaFile, `listen ${l.raw} client CA`);
  }
  add(config.admin?.tls?.certFile, 'admin certificate');
  add(config.admin?.tls?.clientCaFile, 'admin client CA');
  return [...out.values()];
}

/** What an admin listener on a non-loopback address lacks, as a warning; null when it has TLS and a token. */
export function nonLoopbackWarning(bound: string, tls: boolean, token: boolean): string | null {
  if (tls && token) return null;
  const lacks = [...(tls ? [] : ['without TLS']), ...(token ? [] : ['without a token'])].join(' and ');
  const why = token ? 'the token and every answer cross the network in clear text' : 'anyone who reaches it can read the config and the backend addresses';
  return `admin API listens on ${bound}, a non-loopback address, ${lacks}: ${why}`;
}

export interface ConfigWarning {
  /** `admin` is said by the admin server itself when it starts (with the address it bound). */
  readonly about: 'pool' | 'certificate' | 'admin';
  readonly message: string;
}

/** The warnings of `config`; `envToken`: an admin token given by MEMSHIFT_ADMIN_TOKEN. */
export function configWarnings(config: Config, now = Date.now(), envToken = process.env.MEMSHIFT_ADMIN_TOKEN): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  for (const pool of config.pools.values()) {
    if (everyServer(pool).some((s) => s.tls?.verify === false)) {
      const message = `pools.${pool.name}: tls.verify is false: memshift accepts any certificate from its servers (no protection from a rogue server or tampering)`;
      warnings.push({ about: 'pool', message });
    }
  }
  for (const { file, use } of certificateFiles(config)) {
    const end = certificateEnd(file);
    if (end !== null && end - now < CERT_EXPIRY_WARNING_MS) {
      const days = Math.max(0, Math.floor((end - now) / 86_400_000));
      warnings.push({ about: 'certificate', message: `${use} ${file} ends on ${new Date(end).toISOString()}, in ${days} days` });
    }
  }
  const a = config.admin;
  if (a !== undefined && !isLoopbackHost(a.host)) {
    const token = a.token !== undefined || a.tokenFile !== undefined || (envToken ?? '') !== '';
    const message = nonLoopbackWarning(formatHostPort(a.host, a.port), a.tls !== undefined, token);
    if (message !== null) warnings.push({ about: 'admin', message });
  }
  return warnings;
}
