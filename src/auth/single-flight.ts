/**
 * One shared run of an async job for every caller that asks while it is under way (100
 * concurrent calls cause one token request). Each caller waits under its own signal; the job
 * itself is aborted only when every caller waiting for it has given up.
 */
import { raceSignal } from '../race-signal.js';

// Preallocated: abort() without a reason builds a DOMException each time.
const ABANDONED = new Error('every caller waiting for this token request gave up');

interface Flight<T> {
  promise: Promise<T>;
  controller: AbortController;
  waiters: number;
}

/** Shares one run of a job among concurrent callers. */
export class SingleFlight<T> {
  #current: Flight<T> | undefined;

  /** Joins the run under way, or starts `job`; resolves with its result, or rejects when `signal` aborts first. */
  run(signal: AbortSignal, job: (signal: AbortSignal) => Promise<T>): Promise<T> {
    let flight = this.#current;
    if (!flight) {
      const controller = new AbortController();
      const started: Flight<T> = { controller, waiters: 0, promise: Promise.resolve() as Promise<never> };
      started.promise = Promise.resolve()
        .then(() => job(controller.signal))
        .finally(() => {
          if (this.#current === started) this.#current = undefined;
        });
      this.#current = flight = started;
    }
    const joined = flight;
    joined.waiters++;
    return raceSignal(joined.promise, signal).finally(() => {
      joined.waiters--;
      if (joined.waiters === 0 && signal.aborted && this.#current === joined) {
        this.#current = undefined;
        joined.controller.abort(ABANDONED);
      }
    });
  }
}
