/**
 * The one retry policy of the engine: for any failure of any call (PUT, DELETE, an invite or a recent-players POST, a token refused on the way) it decides whether to
 * try again, after how long and who waits, or to give up. Pure: the caller
 * passes the random draw. The player chart reads the decision through its guards and delays.
 */
import { MpaAuthorizationError, MpaError, MpaRequestRejectedError, MpaThrottledError, MpaTransportError } from '../errors.js';
import { DOCUMENTED_RATE_LIMITS, type RateLimitConfig } from '../rate-limits.js';
import type { ThrottledEntity } from '../schemas.js';
import { fullJitterDelay, retryAfterDelay, type BackoffOptions } from '../backoff.js';

/** What the policy needs to know about a failed call. */
export interface FailedCall {
  error: unknown;
  /** Attempts that failed before this one (0: the first attempt failed). */
  attempt: number;
  /** Writes are retried until they succeed; POSTs give up after `maxAttempts`. */
  call: 'write' | 'post';
  /**
   * Failed requests of the engine since its last success: an authorization failure is the
   * whole server's, so its wait grows with the outage, not with one player's attempts.
   */
  outageFailures?: number | undefined;
}

/** Policy settings (the engine's options). */
export interface RetrySettings {
  backoff: BackoffOptions;
  retryAfterJitterMs: number;
  maxAttempts: number;
  budgets: RateLimitConfig | false;
}

/** The decision. */
export type RetryDecision =
  | {
      kind: 'retry';
      delayMs: number;
      /** Who waits: this user, or every caller (a throttle that is not per user). */
      scope: 'user' | 'all';
      /** The service said how long (Retry-After): the budget is held that long too. */
      retryAfterMs: number | undefined;
      /** The failure may have taken effect on the service (timeout, reset, 5xx). */
      ambiguous: boolean;
    }
  /** Someone wrote a newer sequence number: never retried, the newer writer keeps the activity. */
  | { kind: 'superseded' }
  /** Refused for good (400), or attempts exhausted for a POST. */
  | { kind: 'give-up'; ambiguous: boolean };

/** Whether a failed request may still have reached the service and taken effect. */
export function isAmbiguous(error: unknown): boolean {
  if (!(error instanceof MpaError)) return true;
  if (error instanceof MpaTransportError && error.reason === 'aborted') return false;
  return error.code === 'SERVER' || error.code === 'TRANSPORT';
}

/**
 * Decides what follows a failure. `random` is one draw in [0, 1) for the jitter.
 *
 * @example
 * retryPolicy({ error, attempt: 0, call: 'write' }, settings, Math.random())
 */
export function retryPolicy(failed: FailedCall, settings: RetrySettings, random: number): RetryDecision {
  const { error, attempt, call } = failed;
  const ambiguous = isAmbiguous(error);
  // Every attempt carries a number above all this engine sent, so a stale answer never means
  // our own earlier attempt landed: a newer writer holds the activity.
  if (error instanceof MpaRequestRejectedError && error.superseded) return { kind: 'superseded' };
  const exhausted = call === 'post' && attempt + 1 >= settings.maxAttempts;
  if (error instanceof MpaThrottledError && error.retryAfterMs !== undefined) {
    if (exhausted) return { kind: 'give-up', ambiguous: false };
    const scope = throttleScope(error.throttle, settings.budgets);
    return { kind: 'retry', delayMs: retryAfterDelay(error.retryAfterMs, settings.retryAfterJitterMs, () => random), scope, retryAfterMs: error.retryAfterMs, ambiguous: false };
  }
  if (error instanceof MpaAuthorizationError) {
    // Every request of this server carries the same credentials: everyone waits once, for as
    // long as the token provider asks (it keeps a refusal for that long) or a growing backoff.
    if (exhausted) return { kind: 'give-up', ambiguous: false };
    const asked = error.retryAfterMs;
    const delayMs = asked !== undefined ? asked : fullJitterDelay(Math.max(attempt, (failed.outageFailures ?? 1) - 1), settings.backoff, () => random);
    return { kind: 'retry', delayMs, scope: 'all', retryAfterMs: undefined, ambiguous: false };
  }
  const aborted = error instanceof MpaTransportError && error.reason === 'aborted';
  if (error instanceof MpaError && !error.retryable && !aborted) {
    return { kind: 'give-up', ambiguous };
  }
  if (exhausted) return { kind: 'give-up', ambiguous };
  return { kind: 'retry', delayMs: fullJitterDelay(attempt, settings.backoff, () => random), scope: 'user', retryAfterMs: undefined, ambiguous };
}

/**
 * Whether a throttle applies to one user or to every caller. The ThrottledEntity does not say
 * so directly: a limit that matches a documented per-user window (or no body at all) is taken
 * as per user; a concurrency limit or any other window is taken as applying to everyone.
 */
export function throttleScope(throttle: ThrottledEntity | undefined, budgets: RateLimitConfig | false): 'user' | 'all' {
  if (!throttle) return 'user';
  if (/concurrency/i.test(throttle.limitType ?? '')) return 'all';
  const { maxRequests, periodInSeconds } = throttle;
  if (maxRequests === undefined || periodInSeconds === undefined) return 'user';
  const limits = budgets || DOCUMENTED_RATE_LIMITS;
  const perUser = (['write', 'read', 'invite', 'recentPlayers'] as const).flatMap((c) => [
    [limits[c].burst, limits.burstWindowMs / 1000],
    [limits[c].sustain, limits.sustainWindowMs / 1000],
  ]);
  return perUser.some(([max, period]) => max === maxRequests && period === periodInSeconds) ? 'user' : 'all';
}
