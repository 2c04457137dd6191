/**
 * docs/security.md stays honest: it documents every key of the TLS and auth blocks, names only
 * metric families (and error kinds) memshift exports and example files that exist, and its links to
 * its own headings resolve.
 */
import type { BackendPool } from '../../../src/backend/index.js';
import { backendFamilies } from '../../../src/app/metrics/backend-metrics.js';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backendTls, listenerTls } from '../../../src/config/tls-schema.js';
import { poolShape, rootShape } from '../../../src/config/schema.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { proxyFamilies } from '../../../src/app/metrics/proxy-metrics.js';
import { tlsFamilies } from '../../../src/app/metrics/tls-metrics.js';
import { ProxyStats } from '../../../src/proxy/stats.js';
import { parseConfig } from '../../../src/config/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const doc = readFileSync(join(ROOT, 'docs/security.md'), 'utf8');

/** GitHub's heading anchors: lower case, punctuation dropped (not - and _), spaces to hyphens. */
const slug = (heading: string): string =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

describe('docs/security.md', () => {
  it('documents every key of pools.<p>.tls, auth, a listener tls and admin', () => {
    const keys = [
      ...Object.keys(backendTls.shape),
      ...Object.keys(listenerTls.shape),
      ...Object.keys(poolShape.auth.unwrap().shape),
      ...Object.keys(rootShape.admin.unwrap().shape),
      'from_tls',
    ];
    for (const key of keys) expect(doc, key).toContain(`\`${key}\``);
  });

  it('names only metric families memshift exports, and real error kinds', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const config = parseConfig('listen: ["127.0.0.1:11211"]\npools:\n  main:\n    servers: ["10.0.0.1:11211:1"]\n');
    const noBackends = { all: [] } as unknown as BackendPool;
    metrics.add(...proxyFamilies(new ProxyStats()), ...tlsFamilies(() => config), ...backendFamilies(() => noBackends));
    const text = await metrics.text();
    const families = new Set(metrics.registry.getMetricsAsArray().map((m) => m.name));
    const used = [...new Set(doc.match(/memshift_[a-z_]+/g) ?? [])];
    expect(used).toContain('memshift_tls_cert_expiry_seconds');
    expect(used.filter((n) => !families.has(n))).toEqual([]);
    for (const [, kind] of doc.matchAll(/memshift_errors_total\{kind="([a-z_]+)"\}/g)) {
      expect(text, `kind ${kind}`).toContain(`memshift_errors_total{kind="${kind}"}`);
    }
  });

  it('names example files that exist, and its links to its headings resolve', () => {
    for (const [, file] of doc.matchAll(/`((?:examples\/[\w/.-]+)|(?:[\w-]+\.yaml))`/g)) {
      const path = file!.startsWith('examples/') ? file! : `examples/kubernetes/${file!}`;
      expect(existsSync(join(ROOT, path)), path).toBe(true);
    }
    const anchors = new Set([...doc.matchAll(/^#{1,6} (.+)$/gm)].map(([, h]) => slug(h!)));
    const links = [...doc.matchAll(/\]\(#([^)]+)\)/g)].map(([, a]) => a!);
    expect(links.length).toBeGreaterThan(5);
    expect(links.filter((a) => !anchors.has(a))).toEqual([]);
  });
});
