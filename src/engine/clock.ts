/**
 * The engine's notion of time: a monotonic clock for every duration (pacing, budgets, backoff,
 * keep-alive), a wall clock only for sequence numbers, and the timers every wait runs on.
 */
import { MAX_TIMER_MS } from '../schemas.js';
import { MpaValidationError } from '../errors.js';

/** Timers the engine schedules on; the shape XState's `clock` option and `setTimeout` share. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * A clock to run the engine on: `now` (monotonic milliseconds), `setTimeout`, `clearTimeout`;
 * or a @sinonjs/fake-timers clock object (from `createClock` or `withGlobal(...).install`).
 */
export type ClockInput =
  | { now: () => number; setTimeout(callback: () => void, ms: number): unknown; clearTimeout(handle: any): void }
  | { now: number; setTimeout(callback: () => void, ms: number): unknown; clearTimeout(handle: any): void; Date?: { now(): number }; performance?: { now(): number } };

/** The resolved clock. */
export interface EngineClock extends Timers {
  /** Monotonic milliseconds: durations only. */
  monotonic(): number;
  /** Wall-clock Unix milliseconds: sequence numbers only. */
  wall(): number;
  /**
   * Keeps the process alive until the returned function is called: held while a caller awaits
   * `flush()` or `close()`, whose waits run on timers that otherwise never keep it alive.
   * Absent on an injected clock: its timers are the caller's to keep or not.
   */
  hold?(): () => void;
}


/**
 * The global clock, looked up at each call so that fake timers installed globally govern it.
 * `performance.now()` is monotonic (fake-timers' `setSystemTime` leaves it alone).
 */
export function globalClock(wall: () => number = () => Date.now()): EngineClock {
  return {
    monotonic: () => performance.now(),
    wall,
    setTimeout: (callback, ms) => {
      const handle = setTimeout(callback, ms);
      // A pending retry or keep-alive must not keep a process alive that is otherwise done.
      (handle as { unref?: () => void }).unref?.();
      return handle;
    },
    clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    hold: () => {
      // A referenced handle that never fires: while it exists, node does not exit under an
      // awaited flush() or close() (an ESM script would otherwise end with code 13, a CommonJS
      // one with code 0 and the DELETEs unsent).
      const handle = setInterval(() => undefined, MAX_TIMER_MS);
      return () => clearInterval(handle);
    },
  };
}

/** Resolves the `clock` option (and the `now` wall-clock option) into an {@link EngineClock}. */
export function resolveClock(input: ClockInput | undefined, wall: (() => number) | undefined): EngineClock {
  if (input === undefined) return globalClock(wall);
  if (typeof input !== 'object' || input === null || typeof input.setTimeout !== 'function' || typeof input.clearTimeout !== 'function' || (typeof input.now !== 'function' && typeof input.now !== 'number')) {
    throw new MpaValidationError('ActivitySync options', [{ path: ['clock'], message: 'clock must have now, setTimeout and clearTimeout (or be a @sinonjs/fake-timers clock)' }]);
  }
  const setT = input.setTimeout.bind(input);
  const clearT = input.clearTimeout.bind(input);
  const timers = { setTimeout: (callback: () => void, ms: number) => setT(callback, ms), clearTimeout: (handle: unknown) => clearT(handle) };
  if (typeof input.now === 'function') {
    const now = input.now.bind(input);
    return { ...timers, monotonic: now, wall: wall ?? now };
  }
  // A fake-timers clock: `now` is its (settable) system time; `performance.now()` is monotonic.
  const fake = input as { now: number; performance?: { now(): number }; Date?: { now(): number } };
  const perf = fake.performance;
  return {
    ...timers,
    monotonic: perf && typeof perf.now === 'function' ? () => perf.now() : () => fake.now,
    wall: wall ?? (() => fake.now),
  };
}

/** Runs `callback` every `ms` on `clock`; returns a function that stops it. */
export function every(clock: EngineClock, ms: number, callback: () => void): () => void {
  let handle: unknown;
  const tick = () => {
    handle = clock.setTimeout(tick, ms);
    callback();
  };
  handle = clock.setTimeout(tick, ms);
  return () => clock.clearTimeout(handle);
}
