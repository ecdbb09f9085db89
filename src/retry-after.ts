/**
 * Retry-After (RFC 9110 section 10.2.3): either delta-seconds or an HTTP-date.
 */
import { MpaValidationError, type ValidationIssue } from './errors.js';
import { MAX_TIMER_MS, unknownKeyIssues } from './schemas.js';

/** Options for {@link parseRetryAfter}. */
export interface RetryAfterOptions {
  /** Current time in ms since epoch, for the HTTP-date form. */
  now: number;
  /** Upper bound on the delay, so a hostile or broken header cannot park a player for days. Default 300 000 (the sustain window). */
  capMs?: number;
}

const DELTA_SECONDS = /^[0-9]+$/;
// IMF-fixdate, obsolete RFC 850 and asctime forms all parse with Date.parse; require a weekday
// and a time so that stray digits or words are not taken for dates.
const HTTP_DATE = /^[A-Za-z]{3,9},? .*\d{1,2}:\d{2}:\d{2}/;

/**
 * Parses a Retry-After header to a delay in milliseconds, or `undefined` when the header is
 * missing or unusable (garbage is ignored, never fatal). A date in the past gives 0.
 *
 * @example
 * parseRetryAfter('5', { now: Date.now() })                              // 5000
 * parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', { now: Date.now() })  // ms until then
 */
export function parseRetryAfter(header: string | null | undefined, options: RetryAfterOptions): number | undefined {
  checkArguments(header, options);
  if (header == null) return undefined;
  const value = header.trim();
  const cap = options.capMs ?? 300_000;
  if (DELTA_SECONDS.test(value)) {
    const seconds = Number(value);
    return Number.isFinite(seconds) ? Math.min(seconds * 1000, cap) : cap;
  }
  if (HTTP_DATE.test(value)) {
    const at = Date.parse(value);
    if (Number.isNaN(at)) return undefined;
    return Math.min(Math.max(0, at - options.now), cap);
  }
  return undefined;
}

/**
 * A caller's mistake is refused, naming it: a header that is not a string would throw a raw
 * TypeError, a missing `now` would give NaN delays, and a negative `capMs` a negative delay.
 * (What the header says is never an error: garbage there is ignored, as above.)
 */
function checkArguments(header: unknown, options: unknown): void {
  const issues: ValidationIssue[] = [];
  if (header != null && typeof header !== 'string') issues.push({ path: ['header'], message: `must be a string, null or undefined, got ${typeof header}` });
  if (typeof options !== 'object' || options === null) issues.push({ path: ['options'], message: 'must be an object with now (Unix ms)' });
  else {
    const { now, capMs } = options as Record<string, unknown>;
    issues.push(...unknownKeyIssues(options, ['now', 'capMs'], ['options']));
    if (typeof now !== 'number' || !Number.isFinite(now)) issues.push({ path: ['options', 'now'], message: 'must be a finite number of Unix ms' });
    if (capMs !== undefined && (typeof capMs !== 'number' || !Number.isInteger(capMs) || capMs < 0 || capMs > MAX_TIMER_MS)) issues.push({ path: ['options', 'capMs'], message: `must be an integer from 0 to ${MAX_TIMER_MS} ms` });
  }
  if (issues.length) throw new MpaValidationError('parseRetryAfter', issues);
}
