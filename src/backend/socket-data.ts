/**
 * Reading a plain TCP socket into one shared buffer instead of a new one per read.
 *
 * By default every read of a net.Socket allocates a 64 KiB ArrayBuffer, shrinks it to the bytes
 * read, wraps it in a Buffer and pushes it through the Readable stream to 'data'. At one small
 * request per read (most memcached clients), that is a good part of memshift's CPU per request.
 * Node's `onread` option (net.connect's, documented) has libuv read into one buffer the caller
 * owns and hands it to a callback, skipping the allocation and the stream. Accepted sockets get no
 * options, so `onSocketData` gives them the same by setting the two fields `onread` sets and
 * calling `useUserBuffer` on the handle, before the first read (in the 'connection' callback); the
 * backend connections get it the same way, right after net.connect (their handle exists by then).
 *
 * The chunk passed on is a copy of the bytes read, in the allocator's pool for small ones, so the
 * parser may keep slices of it: the shared buffer is reused by the next read of any socket.
 * pause() and resume() still work, and 'end', 'error' and 'close' come as usual. When the socket
 * is not a plain TCP one it has just connected, or a Node version names these fields differently,
 * it falls back to 'data' events.
 */
import net from 'node:net';
import tls from 'node:tls';

const SHARED = Buffer.allocUnsafe(64 * 1024);

type Fields = net.Socket & Record<symbol, unknown> & { _handle?: { useUserBuffer?: (b: Uint8Array) => void } | null };

let symbols: { buffer: symbol; callback: symbol } | null | undefined;

function findSymbols(socket: Fields): { buffer: symbol; callback: symbol } | null {
  if (symbols !== undefined) return symbols;
  const own = Object.getOwnPropertySymbols(socket);
  const buffer = own.find((s) => s.description === 'kBuffer');
  const callback = own.find((s) => s.description === 'kBufferCb');
  symbols = buffer !== undefined && callback !== undefined ? { buffer, callback } : null;
  return symbols;
}

/**
 * Calls `onData` with each chunk read from `socket`, read through the shared buffer when it can
 * (see above), else through 'data'. True when the shared buffer is used.
 */
export function onSocketData(socket: net.Socket, onData: (chunk: Buffer) => void): boolean {
  const s = socket as Fields;
  const k = socket instanceof tls.TLSSocket ? null : findSymbols(s);
  const handle = s._handle;
  if (k === null || handle === null || handle === undefined || typeof handle.useUserBuffer !== 'function' || s[k.buffer] !== null || s[k.callback] !== null || socket.bytesRead > 0) {
    socket.on('data', onData);
    return false;
  }
  s[k.buffer] = SHARED;
  s[k.callback] = (nread: number, buf: Buffer): void => {
    const chunk = Buffer.allocUnsafe(nread);
    buf.copy(chunk, 0, 0, nread);
    onData(chunk);
  };
  handle.useUserBuffer(SHARED);
  return true;
}
