/**
 * The abort signal a call hands to `fetch` (and to the authorization provider): aborted when
 * the call's timeout passes or the caller's signal aborts. Calls that start in the same
 * millisecond with the same timeout and the same caller signal share one: they would be
 * aborted at the same moment for the same reason anyway.
 *
 * Why share: an `AbortSignal` is an EventTarget built with a prototype swap; measured in the
 * engine's benchmark, creating one per request with its timer and its listener on the caller's
 * signal cost about 4 µs of CPU per request (with the garbage it leaves), a sixth of the
 * engine's whole cost. A burst of requests (a match filling, a server restarting) starts
 * dozens of calls per millisecond; a call in a quiet period gets a signal of its own, as before.
 *
 * Never early, at most 1 ms late: the shared timer is armed for `timeoutMs + 1` from the first
 * call of the millisecond, so a call that joins later in that millisecond still gets its
 * whole `timeoutMs`. Timers are taken from the global object at call time, so that fake timers
 * govern them (`Date.now` too, which fake timers move with them).
 */
import { setMaxListeners } from 'node:events';

/** One call's hold on a shared deadline. */
export interface CallDeadline {
  /** Aborted when the deadline passes or the caller's signal aborts. */
  readonly signal: AbortSignal;
  /** Whether the deadline passed (as opposed to the caller aborting, or nothing). */
  readonly timedOut: boolean;
  /** The call is over: the last call of a deadline stops its timer and its listener. */
  release(): void;
}

class SharedDeadline implements CallDeadline {
  readonly signal: AbortSignal;
  timedOut = false;
  /** Calls holding it. */
  calls = 1;
  readonly #controller: AbortController;
  readonly #timer: ReturnType<typeof setTimeout>;
  readonly #caller: AbortSignal | undefined;
  readonly #onCallerAbort: () => void;
  readonly #owner: CallDeadlines;

  constructor(owner: CallDeadlines, readonly startedAt: number, readonly timeoutMs: number, caller: AbortSignal | undefined, timedOutReason: unknown, callerReason: unknown) {
    this.#owner = owner;
    this.#controller = new AbortController();
    this.signal = this.#controller.signal;
    // Every fetch sharing it may listen to it: no "possible leak" warning past ten.
    setMaxListeners(0, this.signal);
    this.#timer = setTimeout(() => {
      this.timedOut = true;
      this.#controller.abort(timedOutReason);
    }, timeoutMs + 1);
    this.#caller = caller;
    this.#onCallerAbort = () => this.#controller.abort(callerReason);
    if (caller?.aborted) this.#controller.abort(callerReason);
    else caller?.addEventListener('abort', this.#onCallerAbort, { once: true });
  }

  /** Whether a call starting now with these settings may share it. */
  fits(now: number, timeoutMs: number, caller: AbortSignal | undefined): boolean {
    return this.startedAt === now && this.timeoutMs === timeoutMs && this.#caller === caller && !this.signal.aborted;
  }

  release(): void {
    if (--this.calls > 0) return;
    clearTimeout(this.#timer);
    this.#caller?.removeEventListener('abort', this.#onCallerAbort);
    this.#owner.retired(this);
  }
}

/** Hands out call deadlines for one client (no state shared between clients). */
export class CallDeadlines {
  /** The deadline of the millisecond's calls, while it may still be shared. */
  #open: SharedDeadline | undefined;
  readonly #timedOutReason: unknown;
  readonly #callerReason: unknown;

  /** The reasons the signals abort with: preallocated, since abort() without one builds a DOMException. */
  constructor(timedOutReason: unknown, callerReason: unknown) {
    this.#timedOutReason = timedOutReason;
    this.#callerReason = callerReason;
  }

  /** A deadline `timeoutMs` from now (at most 1 ms more) that also follows `caller`. Release it when the call is over. */
  start(timeoutMs: number, caller: AbortSignal | undefined): CallDeadline {
    const now = Date.now();
    const open = this.#open;
    if (open?.fits(now, timeoutMs, caller)) {
      open.calls++;
      return open;
    }
    return (this.#open = new SharedDeadline(this, now, timeoutMs, caller, this.#timedOutReason, this.#callerReason));
  }

  /** A deadline whose calls are all over is never handed out again. */
  retired(deadline: SharedDeadline): void {
    if (this.#open === deadline) this.#open = undefined;
  }
}
