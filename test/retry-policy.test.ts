import { describe, expect, it } from 'vitest';
import { MpaAuthorizationError, MpaRequestRejectedError, MpaServerError, MpaThrottledError, MpaTransportError, MpaValidationError } from '../src/errors.js';
import { DOCUMENTED_RATE_LIMITS } from '../src/rate-limits.js';
import { retryPolicy, type FailedCall } from '../src/engine/retry-policy.js';

const settings = { backoff: { baseMs: 1000, capMs: 60_000 }, retryAfterJitterMs: 250, maxAttempts: 3, budgets: DOCUMENTED_RATE_LIMITS };
const call = (error: unknown, extra: Partial<FailedCall> = {}): FailedCall => ({ error, attempt: 0, call: 'write', ...extra });

describe('retryPolicy: one decision for every failure of every call', () => {
  it('Retry-After: waits exactly that long plus jitter, for this user when the limit is a per-user window', () => {
    const error = new MpaThrottledError('slow down', { status: 429, retryAfterMs: 5000, throttle: { limitType: 'Rate', maxRequests: 10, periodInSeconds: 15 } });
    expect(retryPolicy(call(error), settings, 0.5)).toEqual({ kind: 'retry', delayMs: 5125, scope: 'user', retryAfterMs: 5000, ambiguous: false });
  });

  it('Retry-After on a limit that is not per user: everyone waits', () => {
    const error = new MpaThrottledError('slow down', { status: 429, retryAfterMs: 4000, throttle: { limitType: 'Concurrency', maxRequests: 5, periodInSeconds: 1 } });
    expect(retryPolicy(call(error), settings, 0)).toMatchObject({ kind: 'retry', scope: 'all', delayMs: 4000 });
  });

  it('5xx and network failures: full-jitter backoff, marked ambiguous (the write may have landed)', () => {
    expect(retryPolicy(call(new MpaServerError('boom', { status: 500 }), { attempt: 2 }), settings, 0.5)).toEqual({ kind: 'retry', delayMs: 2000, scope: 'user', retryAfterMs: undefined, ambiguous: true });
    expect(retryPolicy(call(new MpaTransportError('timeout', 't')), settings, 0.999)).toMatchObject({ kind: 'retry', ambiguous: true, delayMs: 999 });
  });

  it('a stale answer means superseded: never retried, whatever came before', () => {
    const error = new MpaRequestRejectedError('stale', { status: 400, debugMessage: 'The sequence number is not greater than the stored one' });
    if (!error.superseded) return expect.fail('the error must read as superseded');
    expect(retryPolicy(call(error), settings, 0)).toEqual({ kind: 'superseded' });
    expect(retryPolicy(call(error, { attempt: 3 }), settings, 0)).toEqual({ kind: 'superseded' });
  });

  it('an authorization failure holds every caller: the provider’s wait when it gives one, else a backoff that grows with the outage', () => {
    const refused = new MpaAuthorizationError('no', { status: 403 });
    expect(retryPolicy(call(refused, { outageFailures: 1 }), settings, 0.5)).toEqual({ kind: 'retry', delayMs: 500, scope: 'all', retryAfterMs: undefined, ambiguous: false });
    expect(retryPolicy(call(refused, { outageFailures: 5 }), settings, 0.5)).toMatchObject({ delayMs: 8000, scope: 'all' });
    const waitAsked = Object.assign(new MpaAuthorizationError('no', { status: 403 }), { retryAfterMs: 30_000 });
    expect(retryPolicy(call(waitAsked), settings, 0.5)).toMatchObject({ delayMs: 30_000, scope: 'all' });
  });

  it('400 and local validation: give up; authorization: retried with backoff', () => {
    expect(retryPolicy(call(new MpaRequestRejectedError('bad', { status: 400 })), settings, 0)).toMatchObject({ kind: 'give-up' });
    expect(retryPolicy(call(new MpaValidationError('activity', [])), settings, 0)).toMatchObject({ kind: 'give-up', ambiguous: false });
    expect(retryPolicy(call(new MpaAuthorizationError('no', { status: 401 })), settings, 0.5)).toMatchObject({ kind: 'retry', delayMs: 500 });
  });

  it('POSTs give up after maxAttempts; writes never do', () => {
    const error = new MpaServerError('boom', { status: 503 });
    expect(retryPolicy(call(error, { call: 'post', attempt: 2 }), settings, 0)).toMatchObject({ kind: 'give-up' });
    expect(retryPolicy(call(error, { call: 'write', attempt: 50 }), settings, 0)).toMatchObject({ kind: 'retry' });
  });
});
