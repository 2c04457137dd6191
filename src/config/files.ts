/**
 * Files a config names for TLS and authentication, checked when the config is read (by `serve`,
 * a reload and `memshift check` alike), so that a bad one is reported at its field, with the
 * config file's line: one that cannot be read, that holds no PEM block of the kind expected, a
 * certificate that expired or is not valid yet, a key that is not the certificate's.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Certificates closer than this to their end are warned about (config/warnings.ts). */
export const CERT_EXPIRY_WARNING_MS = 14 * 24 * 3600 * 1000;

function readText(path: string): string | { problem: string } {
  try {
    return readFileSync(path, 'latin1');
  } catch (err) {
    return { problem: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate in PEM file `path` (a chain, a CA bundle); throws naming the file. */
export function readCertificates(path: string): X509Certificate[] {
  const text = readText(path);
  if (typeof text !== 'string') throw new Error(text.problem);
  const blocks = text.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error(`${path} holds no PEM certificate (a "-----BEGIN CERTIFICATE-----" block)`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new Error(`${path}: certificate ${i + 1} cannot be parsed: ${(err as Error).message}`, { cause: err });
    }
  });
}

/**
 * What is wrong with PEM file `path` meant to hold `kind`, or null: unreadable, no block of that
 * kind; for certificates, also none that is valid now (expired, or not valid yet).
 */
export function pemProblem(path: string, kind: 'CERTIFICATE' | 'PRIVATE KEY', now = Date.now()): string | null {
  if (kind === 'CERTIFICATE') {
    let certs: X509Certificate[];
    try {
      certs = readCertificates(path);
    } catch (err) {
      return (err as Error).message;
    }
    if (certs.some((c) => validAt(c, now))) return null;
    const c = certs[0]!;
    return Date.parse(c.validTo) < now ? `the certificate in ${path} expired on ${iso(c.validTo)}` : `the certificate in ${path} is not valid before ${iso(c.validFrom)}`;
  }
  const text = readText(path);
  if (typeof text !== 'string') return text.problem;
  // Keys come as PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY.
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) return `${path} holds no PEM private key (a "-----BEGIN PRIVATE KEY-----" block)`;
  try {
    createPrivateKey(text);
  } catch (err) {
    return `${path}: the private key cannot be read (${(err as Error).message}; an encrypted key is not supported)`;
  }
  return null;
}

/** What is wrong with a certificate and its key as a pair (the first certificate is the leaf), or null. */
export function keyPairProblem(certFile: string, keyFile: string): string | null {
  try {
    const leaf = readCertificates(certFile)[0]!;
    return leaf.checkPrivateKey(createPrivateKey(readFileSync(keyFile))) ? null : `the key in ${keyFile} does not match the certificate in ${certFile}`;
  } catch {
    // Each file's own problem is reported at its field.
    return null;
  }
}

const validAt = (c: X509Certificate, now: number): boolean => Date.parse(c.validFrom) <= now && now <= Date.parse(c.validTo);
const iso = (date: string): string => new Date(Date.parse(date)).toISOString();

/** When the first certificate in `path` (a chain's leaf) ends, in ms since the epoch; null when unreadable. */
export function certificateEnd(path: string): number | null {
  try {
    return Date.parse(readCertificates(path)[0]!.validTo);
  } catch {
    return null;
  }
}

/** What is wrong with a secret file (a password), or null. */
export function secretProblem(path: string): string | null {
  const text = readText(path);
  if (typeof text !== 'string') return text.problem;
  return text.trim() === '' ? `${path} is empty` : null;
}
