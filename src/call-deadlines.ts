/**
 * The abort signal a call hands to `fetch` (and to the authorization provider): aborted when
 * the call's timeout passes or the caller's signal aborts, whichever comes first. Timers are
 * taken from the global object at call time, so that fake timers govern them.
 */
import { setMaxListeners } from 'node:events';

/** One call's deadline. */
export interface CallDeadline {
  /** Aborted when the deadline passes or the caller's signal aborts. */
  readonly signal: AbortSignal;
  /** Whether the deadline passed (as opposed to the caller aborting, or nothing). */
  readonly timedOut: boolean;
  /** The call is over: stops the timer and the listener on the caller's signal. */
  release(): void;
}

/** Hands out call deadlines for one client. */
export class CallDeadlines {
  /** The reasons the signals abort with: preallocated, since abort() without one builds a DOMException. */
  constructor(
    private readonly timedOutReason: unknown,
    private readonly callerReason: unknown,
  ) {}

  /** A deadline `timeoutMs` from now that also follows `caller`. Release it when the call is over. */
  start(timeoutMs: number, caller: AbortSignal | undefined): CallDeadline {
    const controller = new AbortController();
    // fetch and the provider may both listen to it: no "possible leak" warning.
    setMaxListeners(0, controller.signal);
    const onCallerAbort = () => controller.abort(this.callerReason);
    const deadline = {
      signal: controller.signal,
      timedOut: false,
      release: () => {
        clearTimeout(timer);
        caller?.removeEventListener('abort', onCallerAbort);
      },
    };
    const timer = setTimeout(() => {
      deadline.timedOut = true;
      controller.abort(this.timedOutReason);
    }, timeoutMs);
    if (caller?.aborted) controller.abort(this.callerReason);
    else caller?.addEventListener('abort', onCallerAbort, { once: true });
    return deadline;
  }
}
