/**
 * The file-system calls the failed-write log makes, behind a small interface so tests can count
 * syncs or inject ENOSPC/EIO. The constructor's scan of existing logs is synchronous (once, at
 * start-up); everything afterwards is asynchronous so a slow disk never blocks the event loop.
 */
import * as fs from 'node:fs';

export interface WriteLogFs {
  mkdirSync(dir: string): void;
  readdirSync(dir: string): string[];
  readFileSync(path: string): Buffer;
  /** Flags as in fs.open: 'r' (directories), 'r+' (existing log), 'w+' (create/truncate). */
  open(path: string, flags: 'r' | 'r+' | 'w+'): Promise<number>;
  write(fd: number, data: Buffer, offset: number, length: number, position: number): Promise<number>;
  read(fd: number, into: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** Makes earlier writes durable (fdatasync). */
  sync(fd: number): Promise<void>;
  ftruncate(fd: number, length: number): Promise<void>;
  close(fd: number): Promise<void>;
  unlink(path: string): Promise<void>;
}

function done<T>(resolve: (v: T) => void, reject: (e: Error) => void) {
  return (err: Error | null, value: T): void => (err ? reject(err) : resolve(value));
}

export const nodeWriteLogFs: WriteLogFs = {
  mkdirSync: (dir) => void fs.mkdirSync(dir, { recursive: true }),
  readdirSync: (dir) => fs.readdirSync(dir),
  readFileSync: (path) => fs.readFileSync(path),
  open: (path, flags) => new Promise((res, rej) => fs.open(path, flags, 0o644, done(res, rej))),
  write: (fd, data, offset, length, position) =>
    new Promise((res, rej) => fs.write(fd, data, offset, length, position, (err, n) => done(res, rej)(err, n))),
  read: (fd, into, offset, length, position) =>
    new Promise((res, rej) => fs.read(fd, into, offset, length, position, (err, n) => done(res, rej)(err, n))),
  sync: (fd) => new Promise((res, rej) => fs.fdatasync(fd, (err) => done(res, rej)(err, undefined))),
  ftruncate: (fd, length) => new Promise((res, rej) => fs.ftruncate(fd, length, (err) => done(res, rej)(err, undefined))),
  close: (fd) => new Promise((res, rej) => fs.close(fd, (err) => done(res, rej)(err, undefined))),
  unlink: (path) => new Promise((res, rej) => fs.unlink(path, (err) => done(res, rej)(err, undefined))),
};

/** Writes all of `data` at `position` (fs.write may write less than asked). */
export async function writeAll(f: WriteLogFs, fd: number, data: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const n = await f.write(fd, data, off, data.length - off, position + off);
    if (n <= 0) throw new Error(`write returned ${n}`);
    off += n;
  }
}

/** Reads up to `length` bytes at `position`; shorter only at the end of the file. */
export async function readAt(f: WriteLogFs, fd: number, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let off = 0;
  while (off < length) {
    const n = await f.read(fd, buf, off, length - off, position + off);
    if (n === 0) break;
    off += n;
  }
  return buf.subarray(0, off);
}
