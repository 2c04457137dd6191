/**
 * A secret kept in a file (the admin `token_file`, a pool's `auth.password_file`), read again when
 * the file changes: its mtime or size (a Kubernetes Secret swapped in place). A file that cannot be
 * read keeps the value read before (`onError` is told once per change); at start, it throws.
 */
import { readFileSync, statSync } from 'node:fs';

/** What tells a change of `path`: its mtime and size, or `missing`. */
export function fileStamp(path: string): string {
  try {
    const s = statSync(path);
    return `${s.mtimeMs}:${s.size}`;
  } catch {
    return 'missing';
  }
}

export function secretFile(path: string, onError: (err: Error) => void): () => string {
  const read = (): string => readFileSync(path, 'utf8').trim();
  let stamp = fileStamp(path);
  let value = read();
  return () => {
    const now = fileStamp(path);
    if (now === stamp) return value;
    stamp = now;
    try {
      value = read();
    } catch (err) {
      onError(err as Error);
    }
    return value;
  };
}
