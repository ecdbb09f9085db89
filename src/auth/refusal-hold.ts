/**
 * A failed token request is kept for a wait that grows with each failure in a row (capped,
 * jittered), and every caller during the wait fails at once with it instead of asking the
 * token service again: 200 players against a token service that refuses for good make one
 * request per wait, not one per player attempt.
 */
import { MpaAuthorizationError, MpaError } from '../errors.js';
import type { RandomSource } from '../random.js';
import { fullJitterDelay } from '../backoff.js';
import { SingleFlight } from './single-flight.js';

/** How long a failed token request is kept before the token service is asked again. */
export interface TokenBackoff {
  /** Ceiling of the first wait, in ms; it doubles with each failure in a row. */
  baseMs: number;
  /** Largest ceiling, in ms. */
  capMs: number;
}

/** Defaults of {@link TokenBackoff}: ceilings 1 s, 2 s, 4 s ... up to 60 s, as the SDK's HTTP layer caps its waits. */
export const DEFAULT_TOKEN_BACKOFF: TokenBackoff = Object.freeze({ baseMs: 1_000, capMs: 60_000 });

/**
 * The wait after the `failures`-th failure in a row (1 for the first): full jitter, a uniform
 * draw below `min(capMs, baseMs * 2^(failures-1))`, but never under half of `baseMs`, so that
 * an unlucky draw cannot let a failing request be sent again at once.
 */
export function refusalWaitMs(failures: number, backoff: TokenBackoff, random: RandomSource): number {
  // A source that returns something outside [0, 1) gets the longest wait, never a storm.
  const unit = () => {
    const draw = random();
    return draw >= 0 && draw < 1 ? draw : 1;
  };
  return Math.max(Math.floor(backoff.baseMs / 2), fullJitterDelay(failures - 1, backoff, unit));
}

/** Keeps the last failure of one kind of token request for its wait. */
export class RefusalHold {
  readonly #backoff: TokenBackoff;
  readonly #now: () => number;
  readonly #random: RandomSource;
  #failures = 0;
  #until = 0;
  #refusal: Error | undefined;

  constructor(backoff: TokenBackoff, now: () => number, random: RandomSource) {
    this.#backoff = backoff;
    this.#now = now;
    this.#random = random;
  }

  /** The error to fail with at once while a failure is held; `undefined` when a request may be made. */
  held(): MpaAuthorizationError | undefined {
    if (this.#refusal === undefined) return undefined;
    const left = this.#until - this.#now();
    return left > 0 ? heldError(this.#refusal, left) : undefined;
  }

  /**
   * Records a failed request and returns the error its callers get. A failure that is itself
   * a held one (the service token's, under an XSTS request) is mirrored for exactly its wait:
   * the request that will end it is the other one's, so it is not counted twice.
   */
  failed(error: unknown): MpaAuthorizationError {
    const now = this.#now();
    if (error instanceof MpaAuthorizationError && error.retryAfterMs !== undefined) {
      this.#refusal = error.cause instanceof Error ? error.cause : error;
      this.#until = now + error.retryAfterMs;
      return error;
    }
    this.#failures++;
    this.#refusal = error instanceof Error ? error : new Error(String(error));
    const wait = refusalWaitMs(this.#failures, this.#backoff, this.#random);
    this.#until = now + wait;
    return heldError(this.#refusal, wait);
  }

  /** A request succeeded: the next failure starts from the first wait again. */
  succeeded(): void {
    this.#failures = 0;
    this.#refusal = undefined;
  }
}

/**
 * One token request at a time for every caller ({@link SingleFlight}), and none at all while a
 * failure is held ({@link RefusalHold}).
 */
export class HeldFlight<T> {
  readonly #flight = new SingleFlight<T>();
  readonly #hold: RefusalHold;

  constructor(hold: RefusalHold) {
    this.#hold = hold;
  }

  /** Joins the request under way, fails at once with a held failure, or starts `job`. */
  run(signal: AbortSignal, job: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const held = this.#hold.held();
    if (held) return Promise.reject(held);
    return this.#flight.run(signal, async (shared) => {
      try {
        const value = await job(shared);
        this.#hold.succeeded();
        return value;
      } catch (error) {
        // Every caller gave up (a timeout, an abort): the service did not refuse anything.
        if (shared.aborted) throw error;
        throw this.#hold.failed(error);
      }
    });
  }
}

/** The error every caller gets during a wait: the failure's own message and fields, and when the next request may go. */
function heldError(refusal: Error, retryAfterMs: number): MpaAuthorizationError {
  const fields = refusal instanceof MpaError ? refusal : undefined;
  return new MpaAuthorizationError(`${refusal.message} (no new token request for ${(retryAfterMs / 1000).toFixed(1)} s)`, {
    status: fields?.status,
    errorCode: fields?.errorCode,
    debugMessage: fields?.debugMessage,
    cause: refusal,
    retryAfterMs,
  });
}
