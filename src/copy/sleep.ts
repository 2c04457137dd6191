/** The copy engine's abortable pause: the rate limiter's wait, the scanner's backoff on BUSY, the verifier's re-reads and settle. */
import { CopyError } from './copy-error.js';

/** Sleeps `ms`, waking early (and rejecting with COPY_ABORTED) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new CopyError('COPY_ABORTED'));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new CopyError('COPY_ABORTED'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
