/**
 * The service's fine-grained rate limits, per user, title and category: a burst and a sustain
 * window each. A refused request is counted too (in the windows that count refusals), so that
 * a client which ignores Retry-After stays throttled, as on the real service.
 */
import { resolveRateLimits, windowsFor, type RateCategory, type RateLimitConfig, type RateLimitOverride } from '../rate-limits.js';
import { SlidingWindows, type WindowUsage } from '../sliding-window.js';
import { Refusal, throttledEntity } from './answers.js';

/** One user's use of one rate-limit category, from {@link EmulatorCore.rateUsage}. */
export interface RateUsage {
  category: RateCategory;
  /** `titleId/xuid` (for invites the sender, for recent players the caller's user hash). */
  key: string;
  /** Burst window first, then sustain. */
  windows: WindowUsage[];
}

const CATEGORIES = ['write', 'read', 'invite', 'recentPlayers'] as const satisfies readonly RateCategory[];

/** Every user's rate windows, or nothing at all when the limits are off. */
export class RateLimits {
  /** The limits in force, or `undefined` when they are off. */
  readonly config: RateLimitConfig | undefined;
  readonly #windows = new Map<RateCategory, SlidingWindows>();

  constructor(override: RateLimitOverride | false | undefined) {
    this.config = override === false ? undefined : resolveRateLimits(override);
    if (this.config) for (const category of CATEGORIES) this.#windows.set(category, new SlidingWindows(windowsFor(this.config, category)));
  }

  /** Counts a request of `key` in `category`, or throws the 429 to answer with its Retry-After. */
  admit(category: RateCategory, key: string, time: number): void {
    const windows = this.#windows.get(category);
    if (!windows) return;
    const violation = windows.check(key, time);
    if (!violation) {
      windows.record(key, time);
      return;
    }
    // Retry-After is computed after recording the refusal: retrying at that moment must succeed.
    windows.record(key, time, true);
    const retryAfter = Math.max(1, Math.ceil((windows.availableAt(key, time) - time) / 1000));
    throw new Refusal(429, throttledEntity(violation.current + 1, violation.window.limit, violation.window.windowMs / 1000, `rate limit for ${category} exceeded`), {
      'retry-after': String(retryAfter),
    });
  }

  /** How full every user's windows are at `time`. Reads only. */
  usage(time: number): RateUsage[] {
    const usage: RateUsage[] = [];
    for (const [category, windows] of this.#windows) {
      for (const key of windows.keys()) usage.push({ category, key, windows: windows.usage(key, time) });
    }
    return usage;
  }

  /** Forgets every user's windows. */
  clear(): void {
    for (const windows of this.#windows.values()) windows.clear();
  }
}
