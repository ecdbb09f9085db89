/**
 * Every error mpa-sync throws or emits is an {@link MpaError}. Switch on `code`:
 *
 * | code | class | retryable |
 * | --- | --- | --- |
 * | `VALIDATION` | {@link MpaValidationError} | no: fix the input |
 * | `REQUEST_REJECTED` | {@link MpaRequestRejectedError} | no |
 * | `AUTHORIZATION` | {@link MpaAuthorizationError} | yes, after a token refresh |
 * | `THROTTLED` | {@link MpaThrottledError} | yes, after `retryAfterMs` |
 * | `SERVER` | {@link MpaServerError} | yes |
 * | `TRANSPORT` | {@link MpaTransportError} | yes |
 * | `USAGE` | {@link MpaUsageError} | no: a programming error |
 * | `CLOSED` | {@link MpaClosedError} | no |
 *
 * No error carries the authorization token: messages are built from the service's
 * `errorCode` and `debugMessage`, never from request headers.
 */
import type { ThrottledEntity } from './schemas.js';

/** What kind of failure an {@link MpaError} is: switch on it (the table above says which are retryable). */
export type MpaErrorCode =
  | 'VALIDATION'
  | 'REQUEST_REJECTED'
  | 'AUTHORIZATION'
  | 'THROTTLED'
  | 'SERVER'
  | 'TRANSPORT'
  | 'USAGE'
  | 'CLOSED';

/** Fields every {@link MpaError} carries besides its message. */
export interface MpaErrorDetails {
  /** HTTP status, when the service answered. */
  status?: number | undefined;
  /** `errorCode` from the service's ErrorResponse body (`RequestValidationError`, ...). */
  errorCode?: string | undefined;
  /** `debugMessage` from the service's body. */
  debugMessage?: string | undefined;
  /** The underlying error (a network error, a zod error). */
  cause?: unknown;
}

/**
 * Base class of every error in mpa-sync.
 *
 * @example
 * try { await client.setActivity(xuid, activity) }
 * catch (e) { if (e instanceof MpaError && e.retryable) scheduleRetry() }
 */
export class MpaError extends Error {
  /** Stable, machine-readable kind of error. */
  readonly code: MpaErrorCode;
  /** HTTP status of the answer, if there was one. */
  readonly status: number | undefined;
  /** The service's `errorCode`, if its body had one. */
  readonly errorCode: string | undefined;
  /** The service's `debugMessage`, if its body had one. */
  readonly debugMessage: string | undefined;
  /** Whether sending the same request again later can succeed. */
  readonly retryable: boolean;

  constructor(code: MpaErrorCode, message: string, retryable: boolean, details: MpaErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = retryable;
    this.status = details.status;
    this.errorCode = details.errorCode;
    this.debugMessage = details.debugMessage;
  }
}

/** One problem found in an input: where, what, and the limit it broke. */
export interface ValidationIssue {
  /** Path to the field, e.g. `['invitedUsers', 3]`. */
  path: (string | number)[];
  /** What is wrong with the value, including the limit (e.g. `at most 512 characters`). */
  message: string;
}

/**
 * An input broke a documented rule. Thrown before any byte is sent.
 *
 * @example
 * catch (e) { if (e instanceof MpaValidationError) console.log(e.issues[0].path, e.issues[0].message) }
 */
export class MpaValidationError extends MpaError {
  /** Every problem found, each with its path. */
  readonly issues: ValidationIssue[];
  constructor(what: string, issues: ValidationIssue[], cause?: unknown) {
    // An issue about the value as a whole has no path: its message stands alone ("invalid
    // MpaClient options: MpaClient options must be an object", not the name twice).
    const text = issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
    super('VALIDATION', `invalid ${what}: ${text}`, false, { cause });
    this.issues = issues;
  }
}

/** The service refused the request as invalid (400 RequestValidationError / InvalidRequest). */
export class MpaRequestRejectedError extends MpaError {
  constructor(message: string, details: MpaErrorDetails) {
    super('REQUEST_REJECTED', message, false, details);
  }
  /**
   * True when the service refused a write because its sequence number was not greater than the
   * last one it accepted for that user: a newer write (ours or another writer's) is already there.
   * The service does not document this answer's wording; we match `sequence` in its debugMessage.
   */
  get superseded(): boolean {
    return /sequence/i.test(this.debugMessage ?? '');
  }
}

/** 400 AuthorizationError, 401 (after one token refresh) or 403, or a token that could not be had. */
export class MpaAuthorizationError extends MpaError {
  /**
   * Set when a token provider holds a failed token request (`xboxServiceAuth` does): how long,
   * in ms from when this error was made, before the provider asks the token service again.
   * Every call until then fails at once with the same refusal, without a request; wait this
   * long before trying again. `undefined` for a refusal of the call itself.
   */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, details: MpaErrorDetails & { retryAfterMs?: number | undefined }) {
    super('AUTHORIZATION', message, true, details);
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** 429, or 503 with Retry-After. Wait `retryAfterMs` before sending again. */
export class MpaThrottledError extends MpaError {
  /** Parsed Retry-After in milliseconds, when the answer had a usable one. */
  readonly retryAfterMs: number | undefined;
  /** The ThrottledEntity body, leniently parsed, when there was one. */
  readonly throttle: ThrottledEntity | undefined;
  constructor(message: string, details: MpaErrorDetails & { retryAfterMs: number | undefined; throttle: ThrottledEntity | undefined }) {
    super('THROTTLED', message, true, details);
    this.retryAfterMs = details.retryAfterMs;
    this.throttle = details.throttle;
  }
}

/** 5xx without Retry-After. */
export class MpaServerError extends MpaError {
  constructor(message: string, details: MpaErrorDetails) {
    super('SERVER', message, true, details);
  }
}

/** What went wrong on the way: the connection, the clock, or the body. */
export type TransportReason = 'network' | 'timeout' | 'aborted' | 'body';

/** Network error, connection reset, timeout, or an unreadable answer. */
export class MpaTransportError extends MpaError {
  /** `network`, `timeout`, `aborted` (the caller's signal) or `body` (unreadable answer). */
  readonly reason: TransportReason;
  constructor(reason: TransportReason, message: string, details: MpaErrorDetails = {}) {
    super('TRANSPORT', message, reason !== 'aborted', details);
    this.reason = reason;
  }
}

/** The library was used in a way it does not support (unknown group, bad option). */
export class MpaUsageError extends MpaError {
  constructor(message: string) {
    super('USAGE', message, false);
  }
}

/** A call was made after `close()`. */
export class MpaClosedError extends MpaError {
  constructor(message = 'ActivitySync is closed') {
    super('CLOSED', message, false);
  }
}
