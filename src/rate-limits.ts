/**
 * The documented fine-grained rate limits of the Multiplayer Activity service, per user and
 * title: a 15 s burst window and a 300 s sustain window for each category.
 */
import type { RateWindow } from './sliding-window.js';

/** Request categories the service counts separately. */
export type RateCategory = 'write' | 'read' | 'invite' | 'recentPlayers';

/** Burst and sustain limits of one category. */
export interface CategoryLimits {
  burst: number;
  sustain: number;
}

/** Window lengths and per-category limits. */
export interface RateLimitConfig {
  burstWindowMs: number;
  sustainWindowMs: number;
  write: CategoryLimits;
  read: CategoryLimits;
  invite: CategoryLimits;
  recentPlayers: CategoryLimits;
}

/**
 * The documented defaults: writes 10/100, reads 20/200, invites 7/50, recent players 3/50
 * per 15 s / 300 s.
 */
export const DOCUMENTED_RATE_LIMITS: RateLimitConfig = Object.freeze({
  burstWindowMs: 15_000,
  sustainWindowMs: 300_000,
  write: Object.freeze({ burst: 10, sustain: 100 }),
  read: Object.freeze({ burst: 20, sustain: 200 }),
  invite: Object.freeze({ burst: 7, sustain: 50 }),
  recentPlayers: Object.freeze({ burst: 3, sustain: 50 }),
});

/** The two windows of one category. Refused requests count in the sustain window only. */
export function windowsFor(config: RateLimitConfig, category: RateCategory): RateWindow[] {
  const limits = config[category];
  return [
    { windowMs: config.burstWindowMs, limit: limits.burst, countsThrottled: false },
    { windowMs: config.sustainWindowMs, limit: limits.sustain, countsThrottled: true },
  ];
}

/** Any subset of {@link RateLimitConfig}, down to a single limit. */
export type RateLimitOverride = Partial<Pick<RateLimitConfig, 'burstWindowMs' | 'sustainWindowMs'>> & Partial<Record<RateCategory, Partial<CategoryLimits>>>;

/** Merges a partial override into the documented limits. */
export function resolveRateLimits(override: RateLimitOverride | undefined): RateLimitConfig {
  const base = DOCUMENTED_RATE_LIMITS;
  return {
    burstWindowMs: override?.burstWindowMs ?? base.burstWindowMs,
    sustainWindowMs: override?.sustainWindowMs ?? base.sustainWindowMs,
    write: { ...base.write, ...override?.write },
    read: { ...base.read, ...override?.read },
    invite: { ...base.invite, ...override?.invite },
    recentPlayers: { ...base.recentPlayers, ...override?.recentPlayers },
  };
}
