/**
 * How long to wait before trying again: the one backoff of mpa-sync, used by the engine's retry
 * policy and by the token provider's refusal hold.
 */
import type { RandomSource } from './random.js';

/** Exponential backoff settings. */
export interface BackoffOptions {
  /** First ceiling, in ms. Default 1000. */
  baseMs: number;
  /** Largest ceiling, in ms. Default 60 000. */
  capMs: number;
}

/**
 * Exponential backoff with full jitter: a uniform draw in [0, min(cap, base * 2^attempt)),
 * so that players who failed together do not retry together.
 *
 * @param attempt 0 for the first retry
 */
export function fullJitterDelay(attempt: number, options: BackoffOptions, random: RandomSource): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** Retry-After honoured exactly, plus a small uniform jitter in [0, jitterMs). */
export function retryAfterDelay(retryAfterMs: number, jitterMs: number, random: RandomSource): number {
  return retryAfterMs + Math.floor(random() * jitterMs);
}
