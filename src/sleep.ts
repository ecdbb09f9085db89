/**
 * A delay on the given timers (default: the global ones, looked up at call time so that fake
 * timers govern it). Rejects with the signal's reason when aborted.
 */
export function sleep(ms: number, signal?: AbortSignal, timers?: { setTimeout(callback: () => void, ms: number): unknown; clearTimeout(handle: any): void }): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const set = timers ? (cb: () => void, t: number) => timers.setTimeout(cb, t) : (cb: () => void, t: number) => setTimeout(cb, t);
    const clear = timers ? (h: unknown) => timers.clearTimeout(h) : (h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>);
    const onAbort = () => {
      clear(timer);
      reject(signal!.reason as Error);
    };
    const timer = set(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
