import http from 'node:http';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach } from 'vitest';
import { AdminServer, type AdminOptions } from '../../../src/admin/index.js';
import { createLogger } from '../../../src/observability/logger.js';

export type LogLine = Record<string, unknown>;

/** A real logger whose JSON lines land, parsed, in `lines`. */
export function captureLogger(): { logger: AdminOptions['logger']; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', destination: sink }), lines };
}

const started: AdminServer[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});

/** An admin server on 127.0.0.1, port 0, closed after the test. */
export async function startAdmin(
  opts: Partial<AdminOptions> = {},
): Promise<{ admin: AdminServer; base: string; lines: LogLine[] }> {
  const { logger, lines } = captureLogger();
  const admin = await AdminServer.start({ host: '127.0.0.1', port: 0, logger, ...opts });
  started.push(admin);
  return { admin, base: `http://${admin.address}`, lines };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  socket: Socket;
}

/** One request through node:http, for what fetch cannot send (chunked bodies, odd methods, an agent). */
export function raw(
  address: string,
  opts: http.RequestOptions & { body?: Buffer | string | Buffer[] },
): Promise<RawResponse> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(port), ...opts }, (res) => {
      const socket = res.socket; // detached (null) once the response has ended
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString(), socket }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    const { body } = opts;
    if (Array.isArray(body)) for (const part of body) req.write(part);
    else if (body !== undefined) req.write(body);
    req.end();
  });
}
