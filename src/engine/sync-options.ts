/**
 * ActivitySync's options and results: what a game server passes and gets back, checked by zod
 * with the defaults documented beside each option.
 */
import { z } from 'zod';
import type { MpaClient } from '../client.js';
import type { RandomSource } from '../random.js';
import type { RateLimitOverride } from '../rate-limits.js';
import { functionSchema, msSchema, unlessUnknownKey } from '../schemas.js';
import type { SequenceSource } from '../sequence.js';
import type { ClockInput } from './clock.js';
import type { PlayerStateName } from './events.js';

/** Options of {@link ActivitySync}; every one but `client` has a default. */
export interface ActivitySyncOptions {
  /** The client that talks to the service (or the emulator). Required. */
  client: MpaClient;
  /** Per-user write budgets to plan for. Default: the documented 10 per 15 s and 100 per 300 s. `false`: none. */
  budgets?: Pick<RateLimitOverride, 'burstWindowMs' | 'sustainWindowMs' | 'write'> | false;
  /** Safety margin added to each budget window, in ms. Default 1000. */
  budgetMarginMs?: number;
  /** Requests in flight at once across all players. Default 16. */
  concurrency?: number;
  /**
   * A change of player count that leaves joinability alone is sent this long after the
   * published count first became wrong, carrying the newest count. Default 15 000; 0 sends
   * every count change as budgets allow. Changes that alter whether a friend can join are
   * never paced.
   */
  countRefreshIntervalMs?: number;
  /** Optional global cap: at most `cap` requests per `intervalMs`. Default none. */
  rateCap?: { cap: number; intervalMs: number };
  /** Exponential backoff (full jitter) for failures without Retry-After. Default base 1000 ms, cap 60 000 ms. */
  backoff?: { baseMs?: number; capMs?: number };
  /** Jitter added to a Retry-After, in ms. Default 250. */
  retryAfterJitterMs?: number;
  /** Attempts for an invite or recent-players call before it is reported refused. Default 5. */
  maxAttempts?: number;
  /** Rewrite an activity that has not been written for this long. Default 1 h (the service drops it after 24 h). */
  keepAliveMs?: number;
  /** Sequence numbers from the wall clock. Default {@link xboxSequenceNumber}, the official SDK's scale. */
  sequence?: SequenceSource;
  /** Wall clock (Unix ms), used only for sequence numbers and report timestamps. Default `Date.now` (or the `clock`'s). */
  now?: () => number;
  /**
   * Timers and monotonic time for every wait of the engine: pacing, budgets, Retry-After,
   * backoff, keep-alive, recent-players intervals. `{ now, setTimeout, clearTimeout }` or a
   * @sinonjs/fake-timers clock. Default: the global timers and `performance.now()`.
   */
  clock?: ClockInput;
  /** Random source for jitter. Default `Math.random`. */
  random?: RandomSource;
  /**
   * Failed requests in a row (network, 5xx) after which one `error` event reports an outage;
   * a `recovered` event follows the next success. An authorization failure reports at once.
   * Default 5.
   */
  errorAfterFailures?: number;
}

/** What {@link ActivitySync.close} resolves with. */
export interface CloseResult {
  /** Players whose activity may still be on the service: their DELETE did not succeed in time, or was refused for good. */
  undeleted: { xuid: string; groupId: string }[];
}

/** What {@link ActivitySync.flush} resolves with. */
export interface FlushResult {
  /** Players whose desired state was not on the service when the flush resolved (only with `timeoutMs`). */
  unsettled: { xuid: string; groupId: string; state: PlayerStateName }[];
}

/** The client methods the engine calls: what makes an object an MpaClient here. */
const CLIENT_METHODS = ['setActivity', 'deleteActivity', 'getActivity', 'sendServerInvite', 'reportRecentPlayerGroups'] as const;

/** ActivitySync's options, checked, with their defaults. */
export const optionsSchema = z.strictObject(
  {
    client: z.custom<MpaClient>((v) => typeof v === 'object' && v !== null && CLIENT_METHODS.every((m) => typeof (v as Record<string, unknown>)[m] === 'function'), {
      error: 'client must be an MpaClient',
    }),
    // `false` is taken out before parsing (see the constructor), so errors name the field.
    budgets: z
      .strictObject({
        burstWindowMs: msSchema('burstWindowMs', 1).optional(),
        sustainWindowMs: msSchema('sustainWindowMs', 1).optional(),
        write: z.strictObject({ burst: z.number().int().positive().optional(), sustain: z.number().int().positive().optional() }).optional(),
      })
      .optional(),
    budgetMarginMs: msSchema('budgetMarginMs').default(1000),
    concurrency: z.number().int().positive().default(16),
    countRefreshIntervalMs: msSchema('countRefreshIntervalMs').default(15_000),
    rateCap: z.strictObject({ cap: z.number().int().positive(), intervalMs: msSchema('intervalMs', 1) }).optional(),
    backoff: z
      .strictObject({ baseMs: msSchema('baseMs', 1).default(1000), capMs: msSchema('capMs', 1).default(60_000) })
      .default({ baseMs: 1000, capMs: 60_000 }),
    retryAfterJitterMs: msSchema('retryAfterJitterMs').default(250),
    maxAttempts: z.number().int().positive().default(5),
    errorAfterFailures: z.number().int().positive().default(5),
    keepAliveMs: msSchema('keepAliveMs', 1).max(23 * 3600_000, { error: 'keepAliveMs must stay under the service’s 24 h expiry (at most 23 h)' }).default(3600_000),
    sequence: functionSchema('sequence', 'a function from Unix ms to a bigint sequence number').optional(),
    now: functionSchema('now', 'a function returning Unix ms').optional(),
    random: functionSchema('random', 'a function returning a number in [0, 1)').optional(),
    clock: z
      .custom<ClockInput>(
        (v) => typeof v === 'object' && v !== null && typeof (v as { setTimeout?: unknown }).setTimeout === 'function' && typeof (v as { clearTimeout?: unknown }).clearTimeout === 'function' && ['function', 'number'].includes(typeof (v as { now?: unknown }).now),
        { error: 'clock must have now, setTimeout and clearTimeout (or be a @sinonjs/fake-timers clock)' },
      )
      .optional(),
  },
  { error: unlessUnknownKey('ActivitySync options must be an object') },
);

/** The options of flush() and close(). */
export const msOption = z.strictObject({ timeoutMs: msSchema('timeoutMs').optional() }, { error: unlessUnknownKey('options must be an object') });
