import { AdapterError } from '../adapter';

/**
 * Settle with `work`, or reject with an AdapterError `timeout` as soon as `signal` aborts. Work that
 * cannot be cancelled (a database query) goes on in the background; its result is dropped.
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(new AdapterError('aborted: the hospital did not answer in time', 'timeout'));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AdapterError('aborted: the hospital did not answer in time', 'timeout'));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
