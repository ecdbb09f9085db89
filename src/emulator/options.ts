/**
 * The emulator's options and their check: a misspelt option or a value that is not what its
 * option says is refused with its path and a reason, never silently ignored or turned into
 * "no limit".
 */
import { z } from 'zod';
import type { RateLimitOverride } from '../rate-limits.js';
import { functionSchema, msSchema, parseInput, unlessUnknownKey } from '../schemas.js';
import type { CoreRequest } from './answers.js';
import type { AuthorizationCheck } from './authorization.js';
import { FAULT_KINDS, RETRY_AFTER_MAX_SECONDS, type FaultOptions } from './faults.js';

/** Options of the emulator. */
export interface EmulatorOptions {
  /** Accepted Authorization header values. Default: any well-formed `XBL3.0 x=<hash>;<token>`. */
  tokens?: readonly string[];
  /** Title ids the caller may use; others get 400 AuthorizationError. Default: any. */
  titleIds?: readonly number[];
  /** What to do with a write whose sequence number is not greater than the last: `reject` (400, default) or `ignore` (204, nothing changes). */
  staleSequence?: 'reject' | 'ignore';
  /** Documented fine-grained rate limits (default), overrides of them, or `false` for none. */
  rateLimits?: RateLimitOverride | false;
  /**
   * An activity not updated for this long is removed. Default 24 h. A user's last sequence
   * number is forgotten as long after their last accepted write (so a day-long emulator that
   * sees ever new users stays flat); until then a stale write is refused, DELETE or not.
   */
  expiryMs?: number;
  /** Random faults. Default none. */
  faults?: FaultOptions;
  /** Delay added before every answer, in ms. Default 0. */
  latencyMs?: number;
  /** Clock. Default `Date.now`, read at each call so fake timers govern it. */
  now?: () => number;
  /**
   * Replaces the Authorization check (and `tokens`): the S2S mode uses it to require a live
   * XSTS token and a valid Signature. Default: the built-in check.
   */
  authorize?: (request: CoreRequest) => AuthorizationCheck;
  /**
   * How many requests {@link EmulatorCore.log} retains (the most recent ones), and likewise
   * invites and recent-player groups. Default 10,000; 0 keeps none. The counters count every
   * request whatever this is.
   */
  logSize?: number;
}

/** Every key of {@link EmulatorOptions}, for the check that refuses a misspelt one. */
export const EMULATOR_OPTION_KEYS = ['tokens', 'titleIds', 'staleSequence', 'rateLimits', 'expiryMs', 'faults', 'latencyMs', 'now', 'authorize', 'logSize'] as const satisfies readonly (keyof EmulatorOptions)[];
// The list cannot fall behind the interface: this fails to compile when a key is missing.
const EVERY_OPTION_LISTED: Exclude<keyof EmulatorOptions, (typeof EMULATOR_OPTION_KEYS)[number]> extends never ? true : never = true;
void EVERY_OPTION_LISTED;

/** Default of {@link EmulatorOptions.logSize}. */
export const DEFAULT_LOG_SIZE = 10_000;
/** Default of {@link EmulatorOptions.expiryMs}: a day. */
export const DEFAULT_EXPIRY_MS = 24 * 60 * 60 * 1000;
const MAX_LOG_SIZE = 10_000_000;
const MAX_TITLE_ID = 2 ** 32 - 1;

const categoryLimits = z.strictObject({ burst: z.number().int().positive().optional(), sustain: z.number().int().positive().optional() });
/**
 * What {@link EmulatorOptions} may hold: a string for a number, a negative delay, a probability
 * above 1 or a lower-case method that no request would match is refused. `now`, `authorize`
 * and the rest are checked for their kind only.
 */
const emulatorOptionsSchema = z.strictObject(
  {
    tokens: z.array(z.string({ error: 'must be a string' }), { error: 'tokens must be an array of Authorization header values' }).readonly().optional(),
    titleIds: z.array(z.number().int().min(1).max(MAX_TITLE_ID), { error: 'titleIds must be an array of title ids' }).readonly().optional(),
    staleSequence: z.enum(['reject', 'ignore'], { error: "staleSequence must be 'reject' or 'ignore'" }).optional(),
    rateLimits: z
      .union(
        [
          z.literal(false),
          z.strictObject({
            burstWindowMs: msSchema('burstWindowMs', 1).optional(),
            sustainWindowMs: msSchema('sustainWindowMs', 1).optional(),
            write: categoryLimits.optional(),
            read: categoryLimits.optional(),
            invite: categoryLimits.optional(),
            recentPlayers: categoryLimits.optional(),
          }),
        ],
        { error: 'rateLimits must be false or overrides of the documented limits' },
      )
      .optional(),
    // Compared with the clock, never a timer: longer than 2^31 ms is fine.
    expiryMs: z
      .number({ error: 'expiryMs must be a number of milliseconds' })
      .int({ error: 'expiryMs must be an integer number of milliseconds' })
      .min(1, { error: 'expiryMs must be at least 1' })
      .max(Number.MAX_SAFE_INTEGER, { error: 'expiryMs must be a safe integer' })
      .optional(),
    faults: z
      .strictObject({
        seed: z.number().int().optional(),
        rates: z
          .partialRecord(z.enum(FAULT_KINDS), z.number().min(0).max(1))
          // The kinds are drawn in turn from one number in [0, 1): more than 1 in all cannot be honoured.
          .refine((rates) => Object.values(rates).reduce((sum: number, rate) => sum + (rate ?? 0), 0) <= 1, { error: 'the rates add up to more than 1' })
          .optional(),
        retryAfterSeconds: z.number().int().min(0).max(RETRY_AFTER_MAX_SECONDS).optional(),
        methods: z.array(z.string().regex(/^[A-Z]+$/, { error: 'must be an HTTP method in capitals, such as PUT' })).optional(),
      })
      .optional(),
    latencyMs: msSchema('latencyMs').optional(),
    now: functionSchema('now', 'a function returning Unix ms').optional(),
    authorize: functionSchema('authorize').optional(),
    logSize: z.number().int().min(0).max(MAX_LOG_SIZE).optional(),
  },
  { error: unlessUnknownKey('emulator options must be an object') },
);

// Every option is checked: this fails to compile when one is missing from the schema.
const EVERY_OPTION_CHECKED: Exclude<keyof EmulatorOptions, keyof typeof emulatorOptionsSchema.shape> extends never ? true : never = true;
void EVERY_OPTION_CHECKED;

/**
 * Refuses bad {@link EmulatorOptions} (unknown keys, malformed values) with an
 * MpaValidationError naming each, as `what`'s error; `basePath` prefixes the paths (the test
 * kit's `emulator`).
 * @internal
 */
export function checkEmulatorOptions(options: unknown, what = 'emulator options', basePath: string[] = []): void {
  parseInput(emulatorOptionsSchema, options, what, basePath);
}
