/**
 * The model-checking load generator against real servers: ~3 s of mixed load through two memshift
 * instances over the same three memcached must show no stale read, resurrected delete, lost write
 * or error, and neither must a single memcached on its own. A flush_all behind the model's back
 * shows the checker does find lost writes through real sockets.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { hold, memshiftConfig, startMemcached, startMemshift, startMemshiftPool, stopAll, TextClient } from '../support/harness.js';
import { finalCheck, formatReport, runModelLoad, type ModelReport } from '../support/model-load.js';

afterAll(stopAll);

function expectClean(r: ModelReport): void {
  expect(r.samples).toEqual([]);
  expect(r.errors.samples).toEqual([]);
  expect({ stale: r.staleReads, resurrected: r.resurrectedDeletes, lost: r.lostWrites, unexplained: r.unexplainedReads, errors: r.errors.total, uncertain: r.uncertain }).toEqual({
    stale: 0,
    resurrected: 0,
    lost: 0,
    unexplained: 0,
    errors: 0,
    uncertain: 0,
  });
}

describe('model load', () => {
  it('finds no anomaly through memshift in front of three memcached', async () => {
    const { backends, proxy } = await startMemshiftPool(3);
    // A second memshift over the same servers (same ring): clients are spread over both ports.
    const second = await startMemshift(memshiftConfig({ pools: { main: { servers: backends } } }));
    const ports = [proxy.port, second.port];
    const report = await runModelLoad({ ports, keys: 200, durationMs: 3_000 });
    const final = await finalCheck(ports, report);
    console.log(`memshift x2 over 3 memcached: ${formatReport(final)}\nby command: ${JSON.stringify(final.byCommand)}`);
    expectClean(final);
    expect(final.final).toMatchObject({ reads: 250, errors: 0 });
    expect(final.final!.hits).toBeGreaterThan(0);
    for (const cmd of ['get', 'gets', 'set', 'delete', 'incr', 'cas', 'touch']) expect(final.byCommand[cmd] ?? 0).toBeGreaterThan(0);
    expect(final.writes).toBeGreaterThan(1_000);
  });

  it('finds no anomaly against a single memcached', async () => {
    const mc = await startMemcached();
    const report = await runModelLoad({ ports: [mc.port], keys: 200, durationMs: 3_000 });
    const final = await finalCheck([mc.port], report);
    console.log(`single memcached: ${formatReport(final)}`);
    expectClean(final);
  });

  it('reports lost writes when the data vanishes behind its back (flush_all)', async () => {
    const mc = await startMemcached();
    const admin = await TextClient.connect(mc.port);
    let flushed = false;
    const started = Date.now();
    const flush = (async (): Promise<void> => {
      await hold(700, 'the flush comes 700 ms into the load');
      expect(await admin.request('flush_all')).toBe('OK\r\n');
      flushed = true;
    })();
    // Stop 500 ms after the flush, with no deletes, so the reads after it must miss written keys.
    const report = await runModelLoad({ ports: [mc.port], keys: 50, mix: { delete: 0 }, stop: () => flushed && Date.now() - started > 1_200 });
    await flush;
    await admin.close();
    console.log(`flush_all during the load: ${formatReport(report).split('\n')[0]}\nfirst: ${report.samples[0]}`);
    expect(report.lostWrites).toBeGreaterThan(0);
    expect(report.samples[0]).toMatch(/^lost write /);
    expect(report.errors.total).toBe(0);
  });
});
