/**
 * What flush() and close() wait on: conditions checked again whenever a player settles
 * (a count, not a scan), and a bound on the engine's clock.
 */
import type { EngineClock } from './clock.js';

/** Conditions awaited until they hold, or until `released` says there is nothing left to wait for. */
export class Waiters {
  readonly #checks = new Set<() => void>();

  constructor(
    private readonly clock: EngineClock,
    /** True once waiting can end for everyone (the engine closed and every player is gone). */
    private readonly released: () => boolean,
  ) {}

  /** Resolves when `done()` holds (checked at each {@link wake}). */
  until(done: () => boolean): Promise<void> {
    if (done() || this.released()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!done() && !this.released()) return;
        this.#checks.delete(check);
        resolve();
      };
      this.#checks.add(check);
    });
  }

  /** Something settled: check every condition again. */
  wake(): void {
    if (this.#checks.size === 0) return;
    for (const check of [...this.#checks]) check();
  }

  /**
   * Resolves `true` when `promise` settles, `false` at `timeoutMs`. The process stays alive
   * meanwhile: the caller is awaiting this, even though each timer it waits on (a Retry-After,
   * a backoff, the timeout itself) is one that must not keep an idle game server alive.
   */
  bounded(promise: Promise<unknown>, timeoutMs: number | undefined): Promise<boolean> {
    const release = this.clock.hold?.();
    const waited = this.#boundedWait(promise, timeoutMs);
    if (!release) return waited;
    return waited.then(
      (done) => (release(), done),
      (error: unknown) => {
        release();
        throw error;
      },
    );
  }

  #boundedWait(promise: Promise<unknown>, timeoutMs: number | undefined): Promise<boolean> {
    if (timeoutMs === undefined) return promise.then(() => true);
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => resolve(false), timeoutMs);
      const settled = () => {
        this.clock.clearTimeout(timer);
        resolve(true);
      };
      promise.then(settled, settled);
    });
  }
}
