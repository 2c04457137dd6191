import { describe, expect, it } from 'vitest';
import { adminBase } from '../../../src/cli/admin-client.js';
import { parseConfig } from '../../../src/config/index.js';
import { makeCerts } from '../../support/tls-certs.js';

const pool = 'listen: ["127.0.0.1:11211"]\npools:\n  main:\n    servers: ["127.0.0.1:11211:1"]\n';

describe('adminBase', () => {
  it('takes --admin as given, with http:// when it has no scheme', () => {
    expect(adminBase('migrate', '127.0.0.1:9121', undefined, undefined)).toBe('http://127.0.0.1:9121');
    expect(adminBase('migrate', 'https://sidecar:9121/', undefined, undefined)).toBe('https://sidecar:9121');
  });

  it("reaches the config's admin listener, on loopback for a wildcard, over https when it has tls", () => {
    expect(adminBase('migrate', undefined, parseConfig(`admin: {listen: "0.0.0.0:9121"}\n${pool}`), 'f.yml')).toBe('http://127.0.0.1:9121');
    const certs = makeCerts();
    const config = parseConfig(`admin: {listen: "127.0.0.1:9122", tls: {cert_file: ${certs.serverCert}, key_file: ${certs.serverKey}}}\n${pool}`);
    expect(adminBase('migrate', undefined, config, 'f.yml')).toBe('https://127.0.0.1:9122');
  });
});
