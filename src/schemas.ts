/**
 * Zod schemas for everything that crosses the wire. Types are inferred from them, so the rules
 * in mpa-facts.md and the seed documents are written down exactly once.
 */
import { z } from 'zod';
import { MpaValidationError } from './errors.js';

export const MAX_ULONG = 2n ** 64n - 1n;
const MAX_TITLE_ID = 2 ** 32 - 1;

/** Documented limits, in one place for the client, the emulator and the engine. */
export const LIMITS = {
  connectionStringMax: 512,
  groupIdMax: 127,
  currentPlayersMin: 1,
  currentPlayersMax: 100,
  maxPlayersMin: 2,
  maxPlayersMax: 100,
  invitedUsersMax: 16,
  queryUsersMax: 30,
  recentPlayerGroupsMax: 20,
  recentPlayersMin: 2,
  recentPlayersMax: 100,
} as const;

const decimal = /^[0-9]+$/;

/** A title id: an integer 1..2^32-1, as a number or a decimal string. */
export const titleIdSchema = z
  .union([z.number(), z.string().regex(decimal, { error: 'must be a decimal integer' }).transform(Number)], { error: 'titleId must be a number (or a decimal string)' })
  .pipe(
    z
      .number()
      .int({ error: 'must be an integer' })
      .min(1, { error: 'must be at least 1' })
      .max(MAX_TITLE_ID, { error: `must be at most ${MAX_TITLE_ID} (2^32-1)` }),
  );

function ulongRange(what: string) {
  return z
    .bigint()
    .refine((v) => v >= 1n, { error: `${what} must be at least 1` })
    .refine((v) => v <= MAX_ULONG, { error: `${what} must be at most 2^64-1` });
}

/** An Xbox user id (XUID): base-10 ulong, as a string or bigint. Normalised to a string. */
export const xuidSchema = z
  .union([z.bigint(), z.string().regex(decimal, { error: 'xuid must be a base-10 integer string' })], {
    error: 'xuid must be a string or bigint',
  })
  .transform((v) => BigInt(v))
  .pipe(ulongRange('xuid'))
  .transform((v) => v.toString());
/** Anything {@link xuidSchema} accepts. */
export type XuidInput = z.input<typeof xuidSchema>;

/** A sequence number 1..2^64-1 as bigint, number or decimal string. Normalised to bigint. */
export const sequenceNumberSchema = z
  .union(
    [
      z.bigint(),
      z.number().int({ error: 'sequenceNumber must be an integer' }).refine(Number.isSafeInteger, {
        error: 'sequenceNumber above 2^53 must be a string or bigint to keep its precision',
      }),
      z.string().regex(decimal, { error: 'sequenceNumber must be a base-10 integer string' }),
    ],
    { error: 'sequenceNumber must be a bigint, integer or decimal string' },
  )
  .transform((v) => BigInt(v))
  .pipe(ulongRange('sequenceNumber'));
/** Anything {@link sequenceNumberSchema} accepts. */
export type SequenceNumberInput = z.input<typeof sequenceNumberSchema>;

/** Who may join through the activity. */
export const joinRestrictionSchema = z.enum(['Public', 'Followed', 'InviteOnly']);
export type JoinRestriction = z.infer<typeof joinRestrictionSchema>;

/** Platforms the service knows. Omit the platform to be joinable on every platform of the title. */
export const platformSchema = z.enum(['Android', 'IOS', 'Nintendo', 'PlayStation', 'Scarlett', 'Win32', 'WindowsOneCore', 'XboxOne']);
export type Platform = z.infer<typeof platformSchema>;

export const connectionStringSchema = z
  .string({ error: 'connectionString must be a string' })
  .max(LIMITS.connectionStringMax, { error: `connectionString must be at most ${LIMITS.connectionStringMax} characters` });

const currentPlayersSchema = z
  .number({ error: 'currentPlayers must be a number' })
  .int({ error: 'currentPlayers must be an integer' })
  .min(LIMITS.currentPlayersMin, { error: `currentPlayers must be at least ${LIMITS.currentPlayersMin}` })
  .max(LIMITS.currentPlayersMax, { error: `currentPlayers must be at most ${LIMITS.currentPlayersMax}` });

export const maxPlayersSchema = z
  .number({ error: 'maxPlayers must be a number' })
  .int({ error: 'maxPlayers must be an integer' })
  .min(LIMITS.maxPlayersMin, { error: `maxPlayers must be at least ${LIMITS.maxPlayersMin} (greater than 1)` })
  .max(LIMITS.maxPlayersMax, { error: `maxPlayers must be at most ${LIMITS.maxPlayersMax}` });

export const groupIdSchema = z
  .string({ error: 'groupId must be a string' })
  .max(LIMITS.groupIdMax, { error: `groupId must be under 128 characters (at most ${LIMITS.groupIdMax})` });

/**
 * The body of PUT /titles/{titleId}/users/{xuid}/activities, as the caller gives it.
 * An empty connectionString is refused: nobody can join through it.
 */
export const activityInputSchema = z.strictObject({
  connectionString: connectionStringSchema.min(1, { error: 'connectionString must not be empty' }),
  joinRestriction: joinRestrictionSchema,
  sequenceNumber: sequenceNumberSchema,
  currentPlayers: currentPlayersSchema.optional(),
  maxPlayers: maxPlayersSchema.optional(),
  groupId: groupIdSchema.optional(),
  platform: platformSchema.optional(),
});
/** What {@link MpaClient.setActivity} accepts. */
export type ActivityInput = z.input<typeof activityInputSchema>;
/** A validated activity, sequence number as bigint. */
export type ActivityFields = z.output<typeof activityInputSchema>;

export const deleteInputSchema = z.strictObject({ sequenceNumber: sequenceNumberSchema });
/** What {@link MpaClient.deleteActivity} accepts. */
export type DeleteInput = z.input<typeof deleteInputSchema>;

export const inviteInputSchema = z.strictObject({
  sender: xuidSchema,
  invitedUsers: z
    .array(xuidSchema, { error: 'invitedUsers must be an array of xuids' })
    .min(1, { error: 'invitedUsers must name at least 1 user' })
    .max(LIMITS.invitedUsersMax, { error: `invitedUsers must name at most ${LIMITS.invitedUsersMax} users` }),
  connectionString: connectionStringSchema.optional(),
  platform: platformSchema.optional(),
});
/** What {@link MpaClient.sendServerInvite} accepts. */
export type InviteInput = z.input<typeof inviteInputSchema>;

export const queryInputSchema = z.array(xuidSchema, { error: 'users must be an array of xuids' }).min(1, { error: 'users must name at least 1 user' });

export const encounterTypeSchema = z.enum(['Default', 'Teammate', 'Opponent']);
export type EncounterType = z.infer<typeof encounterTypeSchema>;

export const recentPlayerGroupSchema = z.strictObject({
  recentPlayers: z
    .array(z.strictObject({ id: xuidSchema }))
    .min(LIMITS.recentPlayersMin, { error: `a recent-player group needs at least ${LIMITS.recentPlayersMin} players` })
    .max(LIMITS.recentPlayersMax, { error: `a recent-player group holds at most ${LIMITS.recentPlayersMax} players` }),
  timestamp: z.iso.datetime({ offset: true, error: 'timestamp must be an ISO-8601 date-time' }),
  encounterType: encounterTypeSchema,
});
export const recentPlayerGroupsSchema = z
  .array(recentPlayerGroupSchema)
  .min(1, { error: 'at least 1 recent-player group' })
  .max(LIMITS.recentPlayerGroupsMax, { error: `at most ${LIMITS.recentPlayerGroupsMax} recent-player groups per call` });
/** One group of players who played together, for {@link MpaClient.reportRecentPlayerGroups}. */
export type RecentPlayerGroupInput = z.input<typeof recentPlayerGroupSchema>;

// Answers are read leniently: the documentation types numbers as strings in places and as
// numbers in examples, and unknown fields must survive.
const looseInt = z.union([z.number(), z.string().regex(/^-?[0-9]+$/).transform(Number)]);
// A sequence number as read: a decimal string in canonical form (no leading zeros), whether the
// service sent a string or a number. A string, not a bigint, so that what a read returns survives
// JSON.stringify and has the emulator's StoredActivity type; `BigInt(s)` to compare.
const looseUlong = z.union([z.number().int().min(0), z.string().regex(decimal)]).transform((v) => BigInt(v).toString());

/**
 * A name matched case-insensitively to one of `names`, as the official SDK reads join
 * restrictions and platforms (it sends `iOS`, the REST pages say `IOS`). Known names come back
 * in their canonical spelling; unknown ones are kept as sent.
 */
function caseInsensitive<T extends string>(names: readonly T[]) {
  const byLower = new Map(names.map((n) => [n.toLowerCase(), n]));
  return z.string().transform((v): T | (string & {}) => byLower.get(v.toLowerCase()) ?? v);
}

/**
 * An activity as the service returns it from GET or query. Unknown fields are kept. Read as
 * the SDK reads it: `connectionString` is absent when the caller may not join, and
 * `joinRestriction` may be absent; zeros are accepted (the limits guard writes, not reads).
 */
export const activitySchema = z.looseObject({
  connectionString: z.string().optional(),
  joinRestriction: caseInsensitive(joinRestrictionSchema.options).optional(),
  sequenceNumber: looseUlong.optional(),
  currentPlayers: looseInt.optional(),
  maxPlayers: looseInt.optional(),
  groupId: z.string().optional(),
  platform: caseInsensitive(platformSchema.options).optional(),
  titleId: looseInt.optional(),
  userId: z.string().optional(),
});
/**
 * An activity as {@link MpaClient.getActivity} and {@link MpaClient.queryActivities} return it.
 * `sequenceNumber` is a decimal string, as in the emulator's `StoredActivity`, so the answer
 * survives `JSON.stringify`; `BigInt(activity.sequenceNumber)` to compare two.
 */
export type Activity = z.infer<typeof activitySchema>;

/** A platform as a writer may spell it (`iOS` or `IOS`), normalised to the canonical name. */
export const wirePlatformSchema = caseInsensitive(platformSchema.options).pipe(platformSchema);

export const queryResponseSchema = z.looseObject({
  userActivities: z.array(
    z.looseObject({
      userId: z.union([z.string(), z.number()]).transform(String),
      activities: z.array(activitySchema).nullable().optional(),
    }),
  ),
});

export const errorResponseSchema = z.looseObject({
  errorCode: z.string().optional(),
  debugMessage: z.string().optional(),
});

/**
 * The ThrottledEntity body of a 429, read leniently: numbers may come as strings, and the
 * limit's kind as `limitType` or `type`.
 */
export const throttledEntitySchema = z
  .looseObject({
    currentRequests: looseInt.optional().catch(undefined),
    maxRequests: looseInt.optional().catch(undefined),
    periodInSeconds: looseInt.optional().catch(undefined),
    limitType: z.string().optional().catch(undefined),
    type: z.string().optional().catch(undefined),
    debugMessage: z.string().optional().catch(undefined),
    version: z.union([z.string(), z.number()]).transform(String).optional().catch(undefined),
  })
  .transform(({ type, ...rest }) => ({ ...rest, limitType: rest.limitType ?? type }));
export type ThrottledEntity = z.infer<typeof throttledEntitySchema>;

/** Node fires a timer longer than this (2^31 - 1 ms) at once. @internal */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A millisecond option: an integer from `min` to {@link MAX_TIMER_MS}, refused otherwise with a
 * message naming it, never silently turned into "time out now".
 * @internal
 */
export const msSchema = (name: string, min = 0) =>
  z
    .number({ error: `${name} must be a number of milliseconds` })
    .int({ error: `${name} must be an integer number of milliseconds` })
    .min(min, { error: min ? `${name} must be at least ${min}` : `${name} must not be negative` })
    .max(MAX_TIMER_MS, { error: `${name} must be at most ${MAX_TIMER_MS} (2^31-1; Node fires longer timers at once)` });

/** An option that must be a function; `what` says which (default: "a function"). @internal */
export const functionSchema = (name: string, what = 'a function') =>
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any function; its own option type says which
  z.custom<(...args: any[]) => any>((v) => typeof v === 'function', { error: `${name} must be ${what}` });

/**
 * Parses `value` with `schema`, or throws {@link MpaValidationError} naming each bad field.
 * @internal
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string, basePath: (string | number)[] = []): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.flatMap((issue) => {
    const path = [...basePath, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    // An unknown key (a typo, most often) is named by its own path, one issue each.
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ path: [...path, key], message: UNKNOWN_KEY }));
    return [{ path, message: issue.message }];
  });
  throw new MpaValidationError(what, issues, result.error);
}

const UNKNOWN_KEY = 'unknown key (a typo?)';

/**
 * One issue per key of `value` not in `known`, for options checked without zod (objects of
 * functions, interfaces): the same message as {@link parseInput} gives a strict schema's.
 * @internal
 */
export function unknownKeyIssues(value: object, known: readonly string[], basePath: (string | number)[] = []): { path: (string | number)[]; message: string }[] {
  return Object.keys(value)
    .filter((key) => !known.includes(key))
    .map((key) => ({ path: [...basePath, key], message: UNKNOWN_KEY }));
}

/**
 * Refuses an options object with a key not in `known`, naming each: a misspelt option
 * (`prot: 1`) would otherwise be dropped and its default used without a word.
 * @internal
 */
export function knownKeysOnly(what: string, options: object, known: readonly string[], basePath: string[] = []): void {
  if (typeof options !== 'object' || options === null) throw new MpaValidationError(what, [{ path: basePath, message: 'must be an object' }]);
  const issues = unknownKeyIssues(options, known, basePath);
  if (issues.length) throw new MpaValidationError(what, issues);
}

/**
 * The `error` of a strict object schema: `message` when the value is not an object at all;
 * zod's own issue for anything else (an unknown key is then named by {@link parseInput}).
 * @internal
 */
export const unlessUnknownKey =
  (message: string) =>
  (issue: { code?: string }): string | undefined =>
    issue.code === 'invalid_type' ? message : undefined;
