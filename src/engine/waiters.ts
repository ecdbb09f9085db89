/**
 * What flush() and close() wait on: conditions checked again whenever a player settles
 * (a count, not a scan), and a bound on the engine's clock.
 */
import type { EngineClock } from './clock.js';

/** Conditions awaited until they hold, or until `released` says there is nothing left to wait for. */
export class Waiters {
  readonly #checks = new Set<() => void>();
  /** Waits on players, by player: each ends when the last of its players has settled. */
  readonly #byPlayer = new Map<string, Set<{ pending: Set<string>; resolve: () => void }>>();

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

  /**
   * Resolves once each of `xuids` has settled (now, or at a later {@link settled} call), or when
   * waiting ends for everyone. Indexed by player, so that a thousand groups closing at once do
   * not each check every member whenever one player settles.
   */
  untilSettled(xuids: readonly string[], isSettled: (xuid: string) => boolean): Promise<void> {
    const pending = new Set(xuids.filter((x) => !isSettled(x)));
    if (pending.size === 0 || this.released()) return Promise.resolve();
    return new Promise((resolve) => {
      const wait = { pending, resolve };
      for (const xuid of pending) {
        let waits = this.#byPlayer.get(xuid);
        if (!waits) this.#byPlayer.set(xuid, (waits = new Set()));
        waits.add(wait);
      }
    });
  }

  /** `xuid` settled: the waits on it that have no other player pending end. */
  settled(xuid: string): void {
    const waits = this.#byPlayer.get(xuid);
    if (!waits) return;
    this.#byPlayer.delete(xuid);
    for (const wait of waits) {
      wait.pending.delete(xuid);
      if (wait.pending.size === 0) wait.resolve();
    }
  }

  /** Something settled: check every condition again (and end every wait, once waiting is over for everyone). */
  wake(): void {
    if (this.released() && this.#byPlayer.size > 0) {
      for (const waits of this.#byPlayer.values()) for (const wait of waits) wait.resolve();
      this.#byPlayer.clear();
    }
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
