/**
 * Keys under `__memshift__` are memshift's own (migration records and leases, rebuild leases).
 * Clients may not read or write them: the proxy answers CLIENT_ERROR, and copies, verifies and
 * cleanups leave them alone.
 */
export const RESERVED_PREFIX = '__memshift__';
const RESERVED = Buffer.from(RESERVED_PREFIX, 'latin1');

export function isReserved(key: Uint8Array): boolean {
  if (key.length < RESERVED.length || key[0] !== 0x5f) return false;
  for (let i = 1; i < RESERVED.length; i++) if (key[i] !== RESERVED[i]) return false;
  return true;
}
