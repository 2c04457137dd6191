/**
 * Files a config names for TLS and authentication, checked when the config is read (by `serve`,
 * a reload and `memshift check` alike), so that a bad one is reported at its field, with the
 * config file's line: one that cannot be read, or that holds no PEM block of the kind expected.
 */
import { readFileSync } from 'node:fs';

/** What is wrong with PEM file `path` meant to hold `kind` ('CERTIFICATE', 'PRIVATE KEY'), or null. */
export function pemProblem(path: string, kind: 'CERTIFICATE' | 'PRIVATE KEY'): string | null {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (err) {
    return `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
  // Keys come as PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY.
  const found = kind === 'CERTIFICATE' ? /-----BEGIN CERTIFICATE-----/.test(text) : /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text);
  return found ? null : `${path} holds no PEM ${kind.toLowerCase()} (a "-----BEGIN ${kind}-----" block)`;
}

/** What is wrong with a secret file (a password), or null. */
export function secretProblem(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim() === '' ? `${path} is empty` : null;
  } catch (err) {
    return `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
}
