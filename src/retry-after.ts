/**
 * Retry-After (RFC 9110 section 10.2.3): either delta-seconds or an HTTP-date.
 */

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
