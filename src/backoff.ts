/**
 * How long to wait before trying again: the one backoff of mpa-sync, used by the engine's retry
 * policy, the token provider's refusal hold and the Agones watch's reconnect.
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

/**
 * Exponential backoff with equal jitter: half of `min(cap, base * 2^attempt)` fixed, half
 * drawn, for a reconnect that must never come back at once but should still spread out.
 *
 * @param attempt 0 for the first retry
 */
export function equalJitterDelay(attempt: number, options: BackoffOptions, random: RandomSource): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
