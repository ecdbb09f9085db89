/**
 * The emulator's service logic, independent of HTTP: routes, validation with the documented
 * 400 bodies, sequence ordering, fine-grained rate limits, expiry, fault injection and an
 * inspection API. `server.ts` puts it on a socket; `fetch` serves it in-process.
 */
import { z } from 'zod';
import { activityInputSchema, deleteInputSchema, inviteInputSchema, LIMITS, recentPlayerGroupsSchema, wirePlatformSchema, xuidSchema, functionSchema, msSchema, parseInput, unlessUnknownKey } from '../schemas.js';
import { resolveRateLimits, windowsFor, type RateCategory, type RateLimitConfig, type RateLimitOverride } from '../rate-limits.js';
import { SlidingWindows, type WindowUsage } from '../sliding-window.js';
import { seededRandom, type RandomSource } from '../random.js';
import { sleep } from '../sleep.js';
import { RingBuffer } from './ring-buffer.js';
import { RequestLog, type LogExtra } from './request-log.js';
import { MpaValidationError, type ValidationIssue } from '../errors.js';
import { fastActivity, fastDelete, scanActivity, type FastActivity } from './wire-fast-path.js';
import { canonicalUserKey, userKeyOf, type UserKey } from './user-key.js';
import { UNAUTHORIZED_HEADERS } from './www-authenticate.js';

/** A fault the emulator can inject instead of serving a request. */
export type FaultKind = '500' | '503' | '503-retry-after' | '429' | 'reset' | 'hang' | 'not-json';

/** Every {@link FaultKind}, for the checks of `failNext` and `POST /_emulator/faults`. */
export const FAULT_KINDS = ['500', '503', '503-retry-after', '429', 'reset', 'hang', 'not-json'] as const satisfies readonly FaultKind[];
/** Most faults one `failNext` call queues. */
export const FAULT_COUNT_MAX = 1000;
/** Longest Retry-After an injected fault carries: a day. */
export const RETRY_AFTER_MAX_SECONDS = 86_400;

function inRange(value: unknown, max: number, min = 1): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

// What a bad argument was, without echoing anything large or odd.
function describeArgument(value: unknown): string {
  return typeof value === 'number' || (typeof value === 'string' && value.length <= 32) ? JSON.stringify(value) : typeof value;
}

/** Probabilities (0..1) of each fault per request, drawn from a seeded generator. */
export interface FaultOptions {
  /** Seed of the generator; the same seed and requests give the same faults. Default 1. */
  seed?: number;
  rates?: Partial<Record<FaultKind, number>>;
  /** Retry-After sent with injected 429 and 503-retry-after answers, in seconds. Default 1. */
  retryAfterSeconds?: number;
  /** Only requests matching these methods are subject to random faults. Default all. */
  methods?: string[];
}

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
const DEFAULT_LOG_SIZE = 10_000;
const MAX_LOG_SIZE = 10_000_000;
const MAX_TITLE_ID = 2 ** 32 - 1;

const categoryLimits = z.strictObject({ burst: z.number().int().positive().optional(), sustain: z.number().int().positive().optional() });
/**
 * What {@link EmulatorOptions} may hold: every value refused with its path and a reason when it
 * is not what its option says (a string for a number, a negative delay, a probability above
 * 1, a lower-case method that no request would match), never silently ignored or turned into
 * "no limit". `now`, `authorize` and the rest are checked for their kind only.
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
/**
 * Refuses bad {@link EmulatorOptions} (unknown keys, malformed values) with an
 * MpaValidationError naming each, as `what`'s error; `basePath` prefixes the paths (the test
 * kit's `emulator`).
 * @internal
 */
export function checkEmulatorOptions(options: unknown, what = 'emulator options', basePath: string[] = []): void {
  parseInput(emulatorOptionsSchema, options, what, basePath);
}

// Every option is checked: this fails to compile when one is missing from the schema.
const EVERY_OPTION_CHECKED: Exclude<keyof EmulatorOptions, keyof typeof emulatorOptionsSchema.shape> extends never ? true : never = true;
void EVERY_OPTION_CHECKED;

/** The result of a custom Authorization check: who called, or the refusal to answer with. */
export type AuthorizationCheck = { caller: string } | { status: number; errorCode: string; debugMessage: string; headers?: Record<string, string> };

/** An activity the emulator holds. */
export interface StoredActivity {
  titleId: number;
  xuid: string;
  connectionString: string;
  joinRestriction: string;
  sequenceNumber: string;
  currentPlayers?: number | undefined;
  maxPlayers?: number | undefined;
  groupId?: string | undefined;
  platform?: string | undefined;
  updatedAt: number;
}

/** One logged request. */
export interface LoggedRequest {
  time: number;
  method: string;
  path: string;
  /** The user the request was about (path xuid, invite sender), if any. */
  xuid?: string | undefined;
  status: number;
  body: unknown;
  fault?: FaultKind | undefined;
  /** Set when the request was refused by a rate limit. */
  throttled?: boolean;
  /** The Retry-After the answer carried, in seconds, if any. */
  retryAfterSeconds?: number | undefined;
}

/** One user's use of one rate-limit category, from {@link EmulatorCore.rateUsage}. */
export interface RateUsage {
  category: RateCategory;
  /** `titleId/xuid` (for invites the sender, for recent players the caller's user hash). */
  key: string;
  /** Burst window first, then sustain. */
  windows: WindowUsage[];
}

/** An invite the emulator accepted. */
export interface RecordedInvite {
  time: number;
  titleId: number;
  sender: string;
  invitedUsers: string[];
  connectionString?: string | undefined;
  platform?: string | undefined;
}

/** A recent-player group the emulator accepted. */
export interface RecordedRecentPlayerGroup {
  time: number;
  titleId: number;
  players: string[];
  timestamp: string;
  encounterType: string;
}

/** Counters since start or the last reset. */
export interface EmulatorCounters {
  requests: number;
  byStatus: Record<string, number>;
  byMethod: Record<string, number>;
  throttled: number;
  faults: number;
  /** The most requests ever in flight at once for one user. */
  maxConcurrentPerUser: number;
}

/** A request as the core sees it. */
export interface CoreRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  body: string;
  /**
   * The bytes `body` was decoded from (UTF-8), when the transport has them: the request log
   * copies them instead of encoding `body` again. Optional; `startEmulator` passes them.
   */
  bodyBytes?: Uint8Array | undefined;
  signal?: AbortSignal | undefined;
}

/** What the transport must do: answer, drop the connection, or never answer. */
export type CoreResponse =
  | { kind: 'answer'; status: number; headers: Record<string, string>; body: string }
  | { kind: 'reset' }
  | { kind: 'hang' };

// Checks the start only: a real XSTS token is over a kilobyte, and node has already refused
// control characters in header values.
const AUTH_FORM = /^XBL3\.0 x=[^;\s]+;\S/;
const AUTH_HASH_START = 'XBL3.0 x='.length;
// Ids in the path are checked by hand, not by zod: this runs on every request. A canonical
// xuid (no leading zero, at most 19 digits: canonicalUserKey) is always within 1..2^64-1;
// anything else (leading zeros, 20 digits, garbage) takes the schema's slower path and its
// messages. A title id is checked once per new spelling (see #lastTitle).
const DECIMAL = /^[0-9]{1,10}$/;
const INVITE_PATH = /^\/titles\/([^/]+)\/invites\/server\/?$/;
const QUERY_PATH = /^\/titles\/([^/]+)\/activities\/query\/?$/;
const RECENT_PATH = /^\/titles\/([^/]+)\/recentplayergroups\/server\/?$/;

// The emulator accepts what the service documents: unknown fields are ignored, not refused,
// and sequence numbers may arrive as strings (the REST reference) or numbers (the SDK).
// Platforms are matched case-insensitively: the SDK sends `iOS` where the REST pages say `IOS`.
const wireActivity = z.object({ ...activityInputSchema.shape, platform: wirePlatformSchema.optional() });
const wireDelete = z.object(deleteInputSchema.shape);
const wireInvite = z.object({ ...inviteInputSchema.shape, platform: wirePlatformSchema.optional() });
const wireQuery = z.object({ users: z.array(xuidSchema).min(1).max(LIMITS.queryUsersMax, { error: `at most ${LIMITS.queryUsersMax} users per query` }) });
const wireRecent = z.object({ recentPlayerGroups: recentPlayerGroupsSchema });

class Refusal {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

function invalid(debugMessage: string, errorCode = 'RequestValidationError'): Refusal {
  return new Refusal(400, { errorCode, debugMessage });
}

function parseWire<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw invalid(`${issue.path.join('.') || 'body'}: ${issue.message}`);
}

/** The emulator's state machine for requests. */
export class EmulatorCore {
  readonly #options: EmulatorOptions;
  readonly #limits: RateLimitConfig | undefined;
  readonly #windows = new Map<RateCategory, SlidingWindows>();
  #random: RandomSource;
  #tokens: Set<string> | undefined;
  /** Each title's users (a title has tables from its first accepted write). */
  #titles = new Map<number, TitleTables>();
  #nextSweepAt = 0;
  #inFlight = new Map<string, number>();
  #forced: { kind: FaultKind; retryAfterSeconds: number }[] = [];
  readonly #log: RequestLog;
  #lastTitle: { raw: string; titleId: number; keyPrefix: string } | undefined;
  /** The last Authorization header the built-in check accepted, and its caller. */
  #lastAuthorization: { header: string; caller: string } | undefined;
  readonly #invites: RingBuffer<RecordedInvite>;
  readonly #recentPlayerGroups: RingBuffer<RecordedRecentPlayerGroup>;
  // Each stored activity's JSON, serialized once at its first read and reused by every GET and
  // query until a write replaces the activity (a new object, so the old entry just goes away).
  readonly #presented = new WeakMap<StoredActivity, { json: string; answer: CoreResponse }>();
  counters: EmulatorCounters = emptyCounters();

  constructor(options: EmulatorOptions = {}) {
    // A misspelt option (`ratelimits: false`) or a wrong value is refused, not ignored. The
    // options are kept as given (functions compared by identity, `now` read at each call).
    checkEmulatorOptions(options);
    this.#options = options;
    this.#limits = options.rateLimits === false ? undefined : resolveRateLimits(options.rateLimits);
    for (const category of ['write', 'read', 'invite', 'recentPlayers'] as const) {
      if (this.#limits) this.#windows.set(category, new SlidingWindows(windowsFor(this.#limits, category)));
    }
    this.#random = seededRandom(options.faults?.seed ?? 1);
    this.#tokens = options.tokens ? new Set(options.tokens) : undefined;
    const logSize = options.logSize ?? DEFAULT_LOG_SIZE;
    this.#log = new RequestLog(logSize, (method, path) => routeOf(method, path)?.xuid);
    this.#invites = new RingBuffer(logSize);
    this.#recentPlayerGroups = new RingBuffer(logSize);
  }

  /**
   * The most recent requests (at most `logSize`, default 10,000), oldest first, as a new
   * array each time it is read. Assigning an array replaces what is retained (`core.log = []`
   * clears it); mutating the array that was read changes nothing.
   */
  get log(): LoggedRequest[] {
    return this.#log.toArray();
  }

  set log(entries: readonly LoggedRequest[]) {
    this.#log.replace(entries);
  }

  /** The most recent invites accepted (at most `logSize`), oldest first; a copy, like `log`. */
  get invites(): RecordedInvite[] {
    return this.#invites.toArray();
  }

  set invites(entries: readonly RecordedInvite[]) {
    this.#invites.replace(entries);
  }

  /** The most recent recent-player groups accepted (at most `logSize`), oldest first; a copy. */
  get recentPlayerGroups(): RecordedRecentPlayerGroup[] {
    return this.#recentPlayerGroups.toArray();
  }

  set recentPlayerGroups(entries: readonly RecordedRecentPlayerGroup[]) {
    this.#recentPlayerGroups.replace(entries);
  }

  /**
   * Logs and counts an answer the transport gives on its own, before or instead of
   * {@link EmulatorCore.handle}: 413 for a body past the limit, 500 when handling failed. So
   * `log` and `counters` show every answered request.
   */
  refuse(method: string, path: string, status: number, errorCode: string, debugMessage: string): CoreResponse {
    this.#record(this.now(), method, path, undefined, undefined, status, NO_SUBJECT);
    return json(status, { errorCode, debugMessage });
  }

  #finish(time: number, request: CoreRequest, response: CoreResponse, status: number, extra: LogExtra | undefined): CoreResponse {
    this.#record(time, request.method, request.path, request.body || undefined, request.bodyBytes, status, extra);
    return response;
  }

  #record(time: number, method: string, path: string, body: string | undefined, bodyBytes: Uint8Array | undefined, status: number, extra: LogExtra | undefined): void {
    this.#log.add(time, method, path, body, status, extra, bodyBytes);
    const counters = this.counters;
    counters.requests++;
    counters.byStatus[status] = (counters.byStatus[status] ?? 0) + 1;
    counters.byMethod[method] = (counters.byMethod[method] ?? 0) + 1;
  }

  now(): number {
    return (this.#options.now ?? Date.now)();
  }

  /** Replaces the accepted Authorization values (`undefined`: any well-formed value). */
  setTokens(tokens: readonly string[] | undefined): void {
    this.#tokens = tokens ? new Set(tokens) : undefined;
    this.#lastAuthorization = undefined; // a revoked token must not pass as "the last accepted
  }

  /**
   * Makes the next `count` requests (1 to 1000) fail with `kind`, before any random fault; a
   * 429 or 503-retry-after carries `Retry-After: retryAfterSeconds` (0 to 86,400). Bad
   * arguments throw an {@link MpaValidationError} naming each: a test that asked for a fault
   * must not go on without it.
   */
  failNext(kind: FaultKind, count = 1, retryAfterSeconds = this.#options.faults?.retryAfterSeconds ?? 1): void {
    const issues: ValidationIssue[] = [];
    if (!(FAULT_KINDS as readonly unknown[]).includes(kind)) issues.push({ path: ['kind'], message: `must be one of ${FAULT_KINDS.join(', ')}, got ${describeArgument(kind)}` });
    if (!inRange(count, FAULT_COUNT_MAX)) issues.push({ path: ['count'], message: `must be an integer from 1 to ${FAULT_COUNT_MAX}, got ${describeArgument(count)}` });
    if (!inRange(retryAfterSeconds, RETRY_AFTER_MAX_SECONDS, 0)) issues.push({ path: ['retryAfterSeconds'], message: `must be an integer from 0 to ${RETRY_AFTER_MAX_SECONDS}, got ${describeArgument(retryAfterSeconds)}` });
    if (issues.length) throw new MpaValidationError('failNext arguments', issues);
    for (let i = 0; i < count; i++) this.#forced.push({ kind, retryAfterSeconds });
  }

  /** Live activities (expired ones are dropped first). */
  activities(): StoredActivity[] {
    this.#expire();
    const live: StoredActivity[] = [];
    for (const tables of this.#titles.values()) for (const a of tables.activities.values()) live.push({ ...a });
    return live;
  }

  /** One user's live activity, if any. With several titles, pass the title id. */
  activity(xuid: string, titleId?: number): StoredActivity | undefined {
    this.#expire();
    // Stored xuids are canonical: any other spelling names nobody.
    const key = typeof xuid === 'string' ? canonicalUserKey(xuid) : undefined;
    if (key === undefined) return undefined;
    for (const [id, tables] of this.#titles) {
      const a = titleId === undefined || id === titleId ? tables.activities.get(key) : undefined;
      if (a) return { ...a };
    }
    return undefined;
  }

  /** The rate limits in force, or `undefined` when they are turned off. */
  get rateLimits(): RateLimitConfig | undefined {
    return this.#limits;
  }

  /** How full every user's rate-limit windows are now. Reads only; for inspection. */
  rateUsage(): RateUsage[] {
    const time = this.now();
    const usage: RateUsage[] = [];
    for (const [category, windows] of this.#windows) {
      for (const key of windows.keys()) usage.push({ category, key, windows: windows.usage(key, time) });
    }
    return usage;
  }

  /** Faults queued by {@link failNext} that no request has consumed yet. */
  pendingFaults(): { kind: FaultKind; retryAfterSeconds: number }[] {
    return this.#forced.map((f) => ({ ...f }));
  }

  /** Forgets every activity, sequence number, rate-limit entry, log line and counter. */
  reset(): void {
    this.#titles.clear();
    for (const w of this.#windows.values()) w.clear();
    this.#forced = [];
    this.#log.clear();
    this.#invites.clear();
    this.#recentPlayerGroups.clear();
    this.counters = emptyCounters();
    this.#random = seededRandom(this.#options.faults?.seed ?? 1);
  }

  /**
   * Serves one request; the transports (`startEmulator`, `inProcessFetch`) call it for every
   * request. Bad input is an answer (400, 401, 404, 405, 429...), not a rejection.
   */
  handle(request: CoreRequest): Promise<CoreResponse> {
    if (!this.#options.latencyMs) {
      try {
        return Promise.resolve(this.handleNow(request)!);
      } catch (error) {
        return Promise.reject(error as Error);
      }
    }
    return this.#serveLater(request, routeOf(request.method, request.path), this.#options.latencyMs);
  }

  /**
   * {@link EmulatorCore.handle} without the promise, for a transport's hot path: the answer,
   * or `undefined` when it cannot be given at once (with `latencyMs`; then call `handle`).
   */
  handleNow(request: CoreRequest): CoreResponse | undefined {
    if (this.#options.latencyMs) return undefined;
    const route = routeOf(request.method, request.path);
    // Served synchronously: a user can then have only one request in flight, so the
    // in-flight bookkeeping of #serveLater is only needed when answers wait.
    if (route?.xuid && this.counters.maxConcurrentPerUser < 1) this.counters.maxConcurrentPerUser = 1;
    return this.#serve(request, route);
  }

  async #serveLater(request: CoreRequest, route: Route | undefined, latencyMs: number): Promise<CoreResponse> {
    const user = route?.xuid;
    const flightKey = user ?? '';
    const concurrent = (this.#inFlight.get(flightKey) ?? 0) + 1;
    this.#inFlight.set(flightKey, concurrent);
    if (user) this.counters.maxConcurrentPerUser = Math.max(this.counters.maxConcurrentPerUser, concurrent);
    try {
      await sleep(latencyMs, request.signal).catch(() => undefined);
      return this.#serve(request, route);
    } finally {
      const left = (this.#inFlight.get(flightKey) ?? 1) - 1;
      if (left) this.#inFlight.set(flightKey, left);
      else this.#inFlight.delete(flightKey);
    }
  }

  #serve(request: CoreRequest, route: Route | undefined): CoreResponse {
    const time = this.now();
    if (time >= this.#nextSweepAt) this.#sweep(time);
    // A PUT in the compact form clients send is read without JSON.parse (see scanActivity);
    // any other body is parsed, and one that is not JSON stays text for the checks to refuse.
    const scanned = route?.kind === 'put' && request.body ? scanActivity(request.body) : undefined;
    let body: unknown;
    if (!scanned) {
      try {
        body = request.body ? JSON.parse(request.body) : undefined;
      } catch {
        body = request.body;
      }
    }

    const fault = this.#drawFault(request.method);
    if (fault) {
      this.counters.faults++;
      const extra: LogExtra = { fault: fault.kind };
      switch (fault.kind) {
        case 'reset':
          return this.#finish(time, request, { kind: 'reset' }, 0, extra);
        case 'hang':
          return this.#finish(time, request, { kind: 'hang' }, 0, extra);
        case 'not-json':
          return this.#finish(time, request, answer(200, '<html>gateway</html>', { 'content-type': 'text/html' }), 200, extra);
        case '500':
          return this.#finish(time, request, json(500, { errorCode: 'InternalServerError', debugMessage: 'injected fault' }), 500, extra);
        case '503':
          return this.#finish(time, request, json(503, { errorCode: 'ServiceUnavailable', debugMessage: 'injected fault' }), 503, extra);
        case '503-retry-after':
          extra.retryAfterSeconds = fault.retryAfterSeconds;
          return this.#finish(time, request, json(503, { errorCode: 'ServiceUnavailable', debugMessage: 'injected fault' }, { 'retry-after': String(fault.retryAfterSeconds) }), 503, extra);
        case '429':
          this.counters.throttled++;
          extra.throttled = true;
          extra.retryAfterSeconds = fault.retryAfterSeconds;
          return this.#finish(time, request, json(429, throttledEntity(11, 10, 15, 'injected throttle'), { 'retry-after': String(fault.retryAfterSeconds) }), 429, extra);
      }
    }

    // Set once the subject is the invite's sender rather than what the path says.
    let subjectExtra: LogExtra | undefined;
    try {
      if (!route) throw new Refusal(404, { errorCode: 'NotFound', debugMessage: `no route for ${request.method} ${request.path}` });
      if (route.kind === 'wrong-method') throw new Refusal(405, { errorCode: 'MethodNotAllowed', debugMessage: `${request.method} is not allowed on ${request.path}` });
      const caller = this.#authorize(request);
      // A game server uses one title id for hours: the last one checked is remembered.
      if (route.titleId !== this.#lastTitle?.raw) {
        const parsed = parseTitleId(route.titleId);
        this.#lastTitle = { raw: route.titleId, titleId: parsed, keyPrefix: `${parsed}/` };
      }
      const { titleId, keyPrefix } = this.#lastTitle;
      if (this.#options.titleIds && !this.#options.titleIds.includes(titleId)) {
        throw invalid(`the caller may not access title ${titleId}`, 'AuthorizationError');
      }
      let subject = caller;
      let key: UserKey = '';
      if (route.xuid !== undefined) {
        // The xuid as a client spells it is checked and made a key in one pass; any other
        // spelling goes through the schema (its 400 message, or its canonical form).
        const canonical = canonicalUserKey(route.xuid);
        subject = canonical === undefined ? parseXuid(route.xuid) : route.xuid;
        key = canonical ?? userKeyOf(subject);
      }
      const sender = route.kind === 'invite' ? senderOf(body) : undefined;
      if (sender !== undefined) {
        subject = sender;
        subjectExtra = { xuid: sender };
      }
      if (this.#limits) this.#rateLimit(route.category, keyPrefix + subject, time);
      const response = this.#apply(route, titleId, subject, key, body, scanned, time);
      return this.#finish(time, request, response, response.kind === 'answer' ? response.status : 0, subjectExtra);
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      let extra = subjectExtra;
      if (error.status === 429) {
        this.counters.throttled++;
        extra = { ...subjectExtra, throttled: true, retryAfterSeconds: Number(error.headers['retry-after']) };
      }
      return this.#finish(time, request, json(error.status, error.body, error.headers), error.status, extra);
    }
  }

  #authorize(request: CoreRequest): string {
    if (this.#options.authorize) {
      const check = this.#options.authorize(request);
      if ('caller' in check) return check.caller;
      throw new Refusal(check.status, { errorCode: check.errorCode, debugMessage: check.debugMessage }, check.headers);
    }
    const header = request.headers.authorization;
    // A game server sends one token for an hour: the last one accepted is remembered (`tokens`
    // does not change after construction), and the same header is accepted again at once.
    const last = this.#lastAuthorization;
    if (last !== undefined && header === last.header) return last.caller;
    // test(), not exec(): no match array per request; the hash ends at the first ';'.
    if (!header || !AUTH_FORM.test(header)) throw new Refusal(401, { errorCode: 'Unauthorized', debugMessage: 'Authorization must be XBL3.0 x=<userhash>;<token>' }, UNAUTHORIZED_HEADERS.missing);
    if (this.#tokens && !this.#tokens.has(header)) throw new Refusal(401, { errorCode: 'Unauthorized', debugMessage: 'the token is not valid (expired or unknown)' }, UNAUTHORIZED_HEADERS.invalid);
    const caller = header.slice(AUTH_HASH_START, header.indexOf(';'));
    this.#lastAuthorization = { header, caller };
    return caller;
  }

  #rateLimit(category: RateCategory, key: string, time: number): void {
    const windows = this.#windows.get(category);
    if (!windows || !this.#limits) return;
    const violation = windows.check(key, time);
    if (!violation) {
      windows.record(key, time);
      return;
    }
    // The refused request counts too (in the windows that count refusals), so Retry-After
    // is computed after recording it: retrying at that moment must succeed.
    windows.record(key, time, true);
    const freeAt = windows.availableAt(key, time);
    const retryAfter = Math.max(1, Math.ceil((freeAt - time) / 1000));
    throw new Refusal(
      429,
      throttledEntity(violation.current + 1, violation.window.limit, violation.window.windowMs / 1000, `rate limit for ${category} exceeded`),
      { 'retry-after': String(retryAfter) },
    );
  }

  #apply(route: Route, titleId: number, subject: string, key: UserKey, body: unknown, scanned: FastActivity | undefined, time: number): CoreResponse {
    switch (route.kind) {
      case 'get': {
        const activity = this.#live(this.#titles.get(titleId), key, time);
        return activity ? this.#presentedOf(activity).answer : NO_CONTENT;
      }
      case 'put':
      case 'delete': {
        // The hand-written check accepts a plainly valid body; zod decides everything else.
        const input = route.kind === 'put' ? (scanned ?? fastActivity(body) ?? parseWire(wireActivity, body)) : (fastDelete(body) ?? parseWire(wireDelete, body));
        let tables = this.#titles.get(titleId);
        const last = tables?.lastSequence.get(key);
        if (last !== undefined && input.sequenceNumber <= last) {
          if (this.#options.staleSequence === 'ignore') return NO_CONTENT;
          throw invalid(`sequenceNumber ${input.sequenceNumber} is not greater than the last accepted ${last}`);
        }
        if (!tables) this.#titles.set(titleId, (tables = { activities: new Map(), lastSequence: new Map(), lastWriteAt: new Map() }));
        tables.lastSequence.set(key, input.sequenceNumber);
        tables.lastWriteAt.set(key, time);
        if (route.kind === 'delete') {
          tables.activities.delete(key);
        } else {
          const a = input as z.output<typeof wireActivity> | NonNullable<ReturnType<typeof fastActivity>>;
          tables.activities.set(key, {
            titleId,
            xuid: subject,
            connectionString: a.connectionString,
            joinRestriction: a.joinRestriction,
            sequenceNumber: a.sequenceNumber.toString(),
            currentPlayers: a.currentPlayers,
            maxPlayers: a.maxPlayers,
            groupId: a.groupId,
            platform: a.platform,
            updatedAt: time,
          });
        }
        return NO_CONTENT;
      }
      case 'invite': {
        const input = parseWire(wireInvite, body);
        this.#invites.push({ time, titleId, sender: input.sender, invitedUsers: input.invitedUsers, connectionString: input.connectionString, platform: input.platform });
        return NO_CONTENT;
      }
      case 'query': {
        const input = parseWire(wireQuery, body);
        // The same bytes as JSON.stringify({ userActivities: [{ userId, activities }] }), built
        // from each activity's cached JSON.
        let text = '{"userActivities":[';
        const tables = this.#titles.get(titleId);
        for (let i = 0; i < input.users.length; i++) {
          const xuid = input.users[i]!;
          const activity = this.#live(tables, userKeyOf(xuid), time);
          text += `${i ? ',' : ''}{"userId":${JSON.stringify(xuid)},"activities":[${activity ? this.#presentedOf(activity).json : ''}]}`;
        }
        return answer(200, `${text}]}`, { 'content-type': 'application/json' });
      }
      case 'recent': {
        const input = parseWire(wireRecent, body);
        for (const g of input.recentPlayerGroups) {
          this.#recentPlayerGroups.push({ time, titleId, players: g.recentPlayers.map((p) => p.id), timestamp: g.timestamp, encounterType: g.encounterType });
        }
        return NO_CONTENT;
      }
      default:
        throw new Refusal(404, { errorCode: 'NotFound', debugMessage: 'no such route' });
    }
  }

  #presentedOf(activity: StoredActivity): { json: string; answer: CoreResponse } {
    let presented = this.#presented.get(activity);
    if (!presented) {
      const text = JSON.stringify(present(activity));
      // Shared by every GET of this activity: frozen, as nothing downstream may change it.
      const headers = Object.freeze({ 'content-type': 'application/json' }) as Record<string, string>;
      presented = { json: text, answer: Object.freeze({ kind: 'answer', status: 200, headers, body: text }) };
      this.#presented.set(activity, presented);
    }
    return presented;
  }

  #live(tables: TitleTables | undefined, key: UserKey, time: number): StoredActivity | undefined {
    const activity = tables?.activities.get(key);
    if (activity && time - activity.updatedAt >= this.#expiryMs()) {
      tables!.activities.delete(key);
      return undefined;
    }
    return activity;
  }

  /**
   * Forgets the users whose last accepted write is `expiryMs` old: their sequence number and
   * their activity, expired by then. Runs at most once per 1/24 of `expiryMs` (an hour by
   * default), on a request: one pass over the users, so memory holds about a day of users.
   */
  #sweep(time: number): void {
    const expiry = this.#expiryMs();
    this.#nextSweepAt = time + Math.max(1000, expiry / 24);
    for (const [titleId, tables] of this.#titles) {
      for (const [key, at] of tables.lastWriteAt) {
        if (time - at < expiry) continue;
        tables.lastWriteAt.delete(key);
        tables.lastSequence.delete(key);
        this.#live(tables, key, time);
      }
      if (tables.lastWriteAt.size === 0) this.#titles.delete(titleId);
    }
  }

  #expire(): void {
    const time = this.now();
    for (const tables of this.#titles.values()) for (const key of [...tables.activities.keys()]) this.#live(tables, key, time);
  }

  #expiryMs(): number {
    return this.#options.expiryMs ?? 24 * 60 * 60 * 1000;
  }

  #drawFault(method: string): { kind: FaultKind; retryAfterSeconds: number } | undefined {
    const forced = this.#forced.length ? this.#forced.shift() : undefined;
    if (forced) return forced;
    const faults = this.#options.faults;
    if (!faults?.rates) return undefined;
    if (faults.methods && !faults.methods.includes(method)) return undefined;
    let draw = this.#random();
    for (const [kind, rate] of Object.entries(faults.rates) as [FaultKind, number][]) {
      if (draw < rate) return { kind, retryAfterSeconds: faults.retryAfterSeconds ?? 1 };
      draw -= rate;
    }
    return undefined;
  }
}

type Route =
  | { kind: 'get' | 'put' | 'delete'; titleId: string; xuid: string; category: RateCategory }
  | { kind: 'invite' | 'query' | 'recent'; titleId: string; xuid?: undefined; category: RateCategory }
  | { kind: 'wrong-method'; titleId: string; xuid?: undefined; category: RateCategory };

/** One title's users, each under its {@link UserKey}. */
interface TitleTables {
  readonly activities: Map<UserKey, StoredActivity>;
  readonly lastSequence: Map<UserKey, bigint>;
  /** When each user's last write was accepted: the sweep forgets users idle past `expiryMs`. */
  readonly lastWriteAt: Map<UserKey, number>;
}

function routeOf(method: string, rawPath: string): Route | undefined {
  const activity = ACTIVITY_PATH.exec(rawPath);
  if (activity) return activityRoute(method, activity[1]!, activity[2] ?? decodeSegment(activity[3]!));
  const query = rawPath.indexOf('?');
  const path = query === -1 ? rawPath : rawPath.slice(0, query);
  let m: RegExpExecArray | null;
  for (const [re, kind, category] of [
    [INVITE_PATH, 'invite', 'invite'],
    [QUERY_PATH, 'query', 'read'],
    [RECENT_PATH, 'recent', 'recentPlayers'],
  ] as const) {
    m = re.exec(path);
    if (m) return method === 'POST' ? { kind, titleId: m[1]!, category } : { kind: 'wrong-method', titleId: m[1]!, category };
  }
  return undefined;
}

/**
 * `/titles/{titleId}/users/{xuid}/activities[/][?query]`, each id one or more characters other
 * than `/` and `?`: the route of nearly every request. One regular expression: measured, about
 * 40% cheaper than splitting the path by hand (four indexOf, three startsWith, three slices).
 * Group 2 is an xuid without percent-escapes (every client's), group 3 one to decode.
 */
const ACTIVITY_PATH = /^\/titles\/([^/?]+)\/users\/(?:([^/?%]+)|([^/?]+))\/activities\/?(?:\?|$)/;

function activityRoute(method: string, titleId: string, xuid: string): Route {
  const kind = method === 'GET' ? 'get' : method === 'PUT' ? 'put' : method === 'DELETE' ? 'delete' : undefined;
  if (!kind) return { kind: 'wrong-method', titleId, category: 'read' };
  return { kind, titleId, xuid, category: kind === 'get' ? 'read' : 'write' };
}

/**
 * Percent-decodes a path segment. A bad escape (`%ZZ`) is left as it came: the id check that
 * follows refuses it with a 400 naming the field, instead of a URIError escaping the handler.
 */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function parseTitleId(raw: string): number {
  if (!DECIMAL.test(raw)) throw invalid('titleId: must be a decimal integer from 1 to 4294967295');
  const titleId = Number(raw);
  if (titleId < 1) throw invalid('titleId: must be at least 1');
  if (titleId > MAX_TITLE_ID) throw invalid(`titleId: must be at most ${MAX_TITLE_ID} (2^32-1)`);
  return titleId;
}

/** An xuid not spelt canonically (see canonicalUserKey): zod refuses it or gives its canonical form. */
function parseXuid(raw: string): string {
  const parsed = xuidSchema.safeParse(raw);
  if (!parsed.success) throw invalid(`xuid: ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}

function present(a: StoredActivity) {
  return {
    titleId: a.titleId,
    userId: a.xuid,
    connectionString: a.connectionString,
    joinRestriction: a.joinRestriction,
    sequenceNumber: a.sequenceNumber,
    ...(a.currentPlayers !== undefined && { currentPlayers: a.currentPlayers }),
    ...(a.maxPlayers !== undefined && { maxPlayers: a.maxPlayers }),
    ...(a.groupId !== undefined && { groupId: a.groupId }),
    ...(a.platform !== undefined && { platform: a.platform }),
  };
}

function throttledEntity(current: number, max: number, periodSeconds: number, debugMessage: string) {
  return { currentRequests: String(current), maxRequests: String(max), periodInSeconds: String(periodSeconds), limitType: 'Rate', debugMessage, version: '1' };
}

// The log's mark of a request answered without a subject (refused before routing).
const NO_SUBJECT: LogExtra = Object.freeze({ xuid: null });

/** An invite's sender, when the body names one as a string: the invite's subject. */
function senderOf(body: unknown): string | undefined {
  return typeof body === 'object' && body !== null && typeof (body as { sender?: unknown }).sender === 'string' ? (body as { sender: string }).sender : undefined;
}

// Shared by every 204: nothing downstream mutates an answer, so one object serves them all.
const NO_CONTENT: CoreResponse = Object.freeze({ kind: 'answer', status: 204, headers: Object.freeze({}) as Record<string, string>, body: '' });

function answer(status: number, body: string, headers: Record<string, string> = {}): CoreResponse {
  return { kind: 'answer', status, headers, body };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): CoreResponse {
  return answer(status, JSON.stringify(body), { 'content-type': 'application/json', ...headers });
}

function emptyCounters(): EmulatorCounters {
  return { requests: 0, byStatus: {}, byMethod: {}, throttled: 0, faults: 0, maxConcurrentPerUser: 0 };
}
