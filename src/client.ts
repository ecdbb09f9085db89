/**
 * MpaClient: every documented Multiplayer Activity call, validated before it is sent and
 * mapped to one error hierarchy when it fails. Exactly one attempt per call (one more when a
 * 401 asks for a fresh token, one more when the provider says a 403 refused a timestamp it has
 * since corrected): retry policy belongs to the session engine.
 */
import { z } from 'zod';
import {
  MpaAuthorizationError,
  MpaError,
  MpaTransportError,
  MpaValidationError,
} from './errors.js';
import { raceSignal } from './race-signal.js';
import { answerError, answerJson, type Answer } from './answer-errors.js';
import { CallDeadlines } from './call-deadlines.js';
import {
  activityInputSchema,
  activitySchema,
  deleteInputSchema,
  functionSchema,
  inviteInputSchema,
  LIMITS,
  msSchema,
  parseInput,
  queryInputSchema,
  queryResponseSchema,
  recentPlayerGroupsSchema,
  titleIdSchema,
  unlessUnknownKey,
  xuidSchema,
  type Activity,
  type ActivityInput,
  type DeleteInput,
  type InviteInput,
  type RecentPlayerGroupInput,
  type XuidInput,
} from './schemas.js';
import { VERSION } from './version.js';

/** Default host of the Multiplayer Activity service. */
export const DEFAULT_BASE_URL = 'https://multiplayeractivity.xboxlive.com';

/** The request an {@link AuthorizationProvider} is asked to authorize. */
export interface AuthorizationRequest {
  /** True once after the service answered 401: get a fresh token. */
  forceRefresh: boolean;
  /** With `forceRefresh`: the Authorization value the service refused (refresh only if it is still the current one). */
  refused?: string | undefined;
  /** Aborts when the call times out or the caller aborts: token requests should stop then. */
  signal: AbortSignal;
  /** HTTP method, upper case. */
  method: string;
  /** The full URL of the call. */
  url: string;
  /** Path and query of the URL, as the `Signature` covers them. */
  pathAndQuery: string;
  /** The exact body bytes that will be sent, if any. */
  body: Uint8Array | undefined;
  /** The user the call concerns (path xuid, invite sender), for delegated tokens. */
  xuid: string | undefined;
}

/** What a provider returns: the Authorization value, or it with a `Signature` header value. */
export type AuthorizationResult = string | { authorization: string; signature?: string | undefined };

/** What {@link AuthorizationProvider.observeResponse} is told about an answer. */
export interface ObservedResponse {
  /** The answer's HTTP status. */
  status: number;
  /** The answer's `Date` header (the service's clock), if it had one. */
  date: string | undefined;
  /** The `Signature` the call was sent with (the provider's own value), if any. */
  signature: string | undefined;
}

/**
 * Returns the `Authorization` header value, `XBL3.0 x=<userhash>;<token>` (and optionally the
 * request's `Signature`). Called before each call, under the call's timeout and signal;
 * `forceRefresh` is true once after the service answered 401. `xboxServiceAuth(...)` is one.
 */
export interface AuthorizationProvider {
  (request: AuthorizationRequest): AuthorizationResult | Promise<AuthorizationResult>;
  /**
   * Optional: told about every answer the service gives, before the call is judged. Returning
   * true says the answer refused the call's Signature for its timestamp and the provider has
   * corrected its clock since: the client then sends the call once more, signed anew (at most
   * once per call). `xboxServiceAuth` learns the services' clock here.
   */
  observeResponse?: ((response: ObservedResponse) => boolean | void) | undefined;
}

/** Options of {@link MpaClient}. */
export interface MpaClientOptions {
  /** The title id, 1..2^32-1, as a number or decimal string. Required. */
  titleId: number | string;
  /** Supplies the XBL3.0 authorization header. Required. */
  authorization: AuthorizationProvider;
  /** Service root. Default `https://multiplayeractivity.xboxlive.com`. */
  baseUrl?: string;
  /**
   * Per-call timeout in milliseconds, getting the token included. Default 10 000.
   */
  timeoutMs?: number;
  /** The fetch implementation. Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Allow `http://` to a host that is not loopback. Default false: tokens only travel over TLS. */
  allowInsecureHttp?: boolean;
  /** Upper bound for a parsed Retry-After, in ms. Default 300 000. */
  retryAfterCapMs?: number;
  /** Extra text appended to the User-Agent, e.g. your game's name and build. */
  userAgent?: string;
  /** Clock for HTTP-date Retry-After values. Default `Date.now`. */
  now?: () => number;
  /** Sent as `Accept-Language` (e.g. `en-US`), as the SDK does. Default: not sent. */
  locale?: string;
}

/** Per-call options. */
export interface CallOptions {
  /** Abort the call. */
  signal?: AbortSignal;
  /** Override the client's timeout for this call. */
  timeoutMs?: number;
}

/** One user's answer from {@link MpaClient.queryActivities}. */
export interface UserActivities {
  xuid: string;
  /** `[]` when the user has no activity; `null` when the service could not read it this time (ask again). */
  activities: Activity[] | null;
}

// CR, LF and other control characters would split or corrupt a header; the message never
// echoes the value (it may be a token).
const CONTROL = /[\u0000-\u001f\u007f]/;
const headerText = (name: string) => z.string({ error: `${name} must be a string` }).refine((v) => !CONTROL.test(v), { error: `${name} must not contain CR, LF or other control characters` });

const clientOptionsSchema = z.strictObject(
  {
    titleId: titleIdSchema,
    authorization: functionSchema('authorization'),
    baseUrl: z
      .string({ error: 'baseUrl must be a string' })
      .url({ error: 'baseUrl must be an absolute URL' })
      .refine((v) => !/[?#]/.test(v), { error: 'baseUrl must not have a query or fragment' })
      .refine((v) => !/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(v), { error: 'baseUrl must not carry credentials (user:password@)' })
      .optional(),
    timeoutMs: msSchema('timeoutMs', 1).optional(),
    retryAfterCapMs: msSchema('retryAfterCapMs', 0).optional(),
    fetch: functionSchema('fetch').optional(),
    now: functionSchema('now').optional(),
    allowInsecureHttp: z.boolean({ error: 'allowInsecureHttp must be a boolean' }).optional(),
    userAgent: headerText('userAgent').optional(),
    locale: headerText('locale').min(1, { error: 'locale must not be empty' }).optional(),
  },
  { error: unlessUnknownKey('MpaClient options must be an object') },
);

// Strict: a misspelt `timeout` would otherwise be dropped, and the call run without one.
const callOptionsSchema = z.strictObject(
  {
    signal: z.instanceof(AbortSignal, { error: 'signal must be an AbortSignal' }).optional(),
    timeoutMs: msSchema('timeoutMs', 1).optional(),
  },
  { error: unlessUnknownKey('call options must be an object (or omitted)') },
);

// Preallocated abort reasons: abort() without one builds a DOMException each time.
const TIMED_OUT = new Error('mpa-sync call timed out');
const CALLER_ABORTED = new Error('mpa-sync call aborted by the caller');

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/**
 * A typed client for the Multiplayer Activity REST service.
 *
 * @example
 * const client = new MpaClient({ titleId: 1234567890, authorization: async () => token });
 * await client.setActivity('2533274800000001', {
 *   connectionString: '203.0.113.7:7777', joinRestriction: 'Followed', sequenceNumber: 1n,
 *   currentPlayers: 3, maxPlayers: 8, groupId: 'match-42',
 * });
 */
export class MpaClient {
  /** The validated title id. */
  readonly titleId: number;
  /** The validated service root, without a trailing slash. */
  readonly baseUrl: string;
  readonly #authorization: AuthorizationProvider;
  readonly #observe: ((response: ObservedResponse) => boolean | void) | undefined;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #deadlines = new CallDeadlines(TIMED_OUT, CALLER_ABORTED);
  readonly #retryAfterCapMs: number;
  readonly #userAgent: string;
  readonly #locale: string | undefined;
  /** The path part of baseUrl (without a trailing slash): what a signature covers before each call's path. */
  readonly #basePath: string;
  readonly #now: () => number;

  constructor(options: MpaClientOptions) {
    const parsed = parseInput(clientOptionsSchema, options, 'MpaClient options');
    const url = new URL(parsed.baseUrl ?? DEFAULT_BASE_URL);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (LOOPBACK.test(url.hostname) || options.allowInsecureHttp))) {
      throw new MpaValidationError('MpaClient options', [
        { path: ['baseUrl'], message: `must be https:// (http:// only to a loopback host, or with allowInsecureHttp); got ${url.protocol}//${url.host}` },
      ]);
    }
    this.titleId = parsed.titleId;
    this.baseUrl = url.href.replace(/\/+$/, '');
    this.#basePath = url.pathname.replace(/\/+$/, '');
    this.#authorization = options.authorization;
    const observe: unknown = options.authorization.observeResponse;
    if (observe !== undefined && typeof observe !== 'function') {
      throw new MpaValidationError('MpaClient options', [{ path: ['authorization', 'observeResponse'], message: 'must be a function when given' }]);
    }
    this.#observe = observe === undefined ? undefined : (response) => (observe as (r: ObservedResponse) => boolean | void).call(options.authorization, response);
    this.#fetch = options.fetch ?? ((...args) => globalThis.fetch(...args));
    this.#timeoutMs = parsed.timeoutMs ?? 10_000;
    this.#retryAfterCapMs = parsed.retryAfterCapMs ?? 300_000;
    this.#userAgent = `mpa-sync/${VERSION} (node ${process.versions.node})${options.userAgent ? ` ${options.userAgent}` : ''}`;
    this.#locale = parsed.locale;
    this.#now = options.now ?? (() => Date.now());
  }

  /**
   * Sets or replaces a user's activity (PUT). `sequenceNumber` must grow with every write for
   * that user; it is sent as a decimal string.
   */
  async setActivity(xuid: XuidInput, activity: ActivityInput, options: CallOptions = {}): Promise<void> {
    const user = parseInput(xuidSchema, xuid, 'xuid', ['xuid']);
    const body = parseInput(activityInputSchema, activity, 'activity');
    await this.#call('PUT', this.#activityPath(user), { ...body, sequenceNumber: body.sequenceNumber.toString() }, options, user);
  }

  /** Reads a user's activity (GET): `null` when there is none (204). */
  async getActivity(xuid: XuidInput, options: CallOptions = {}): Promise<Activity | null> {
    const user = parseInput(xuidSchema, xuid, 'xuid', ['xuid']);
    const answer = await this.#call('GET', this.#activityPath(user), undefined, options, user);
    return answer === undefined ? null : this.#read(activitySchema, answer);
  }

  /** Deletes a user's activity (DELETE). */
  async deleteActivity(xuid: XuidInput, input: DeleteInput, options: CallOptions = {}): Promise<void> {
    const user = parseInput(xuidSchema, xuid, 'xuid', ['xuid']);
    const body = parseInput(deleteInputSchema, input, 'delete request');
    await this.#call('DELETE', this.#activityPath(user), { sequenceNumber: body.sequenceNumber.toString() }, options, user);
  }

  /** Sends a server invite to 1..16 users on behalf of `sender`. */
  async sendServerInvite(input: InviteInput, options: CallOptions = {}): Promise<void> {
    const body = parseInput(inviteInputSchema, input, 'invite');
    await this.#call('POST', `/titles/${this.titleId}/invites/server`, body, options, body.sender);
  }

  /**
   * Reads the activities of many users (POST .../activities/query). Duplicates are removed and
   * more than 30 users are split into several requests, sent one after the other.
   */
  async queryActivities(xuids: readonly XuidInput[], options: CallOptions = {}): Promise<UserActivities[]> {
    const users = [...new Set(parseInput(queryInputSchema, xuids, 'users', ['users']))];
    const out: UserActivities[] = [];
    for (let i = 0; i < users.length; i += LIMITS.queryUsersMax) {
      const chunk = users.slice(i, i + LIMITS.queryUsersMax);
      const answer = await this.#call('POST', `/titles/${this.titleId}/activities/query`, { users: chunk }, options);
      const parsed = this.#read(queryResponseSchema, answer ?? { userActivities: [] });
      // The service answers with a user's activities in every title; keep ours, as the SDK
      // does. A missing `activities` is empty; `null` means the service could not read them.
      const byUser = new Map(
        parsed.userActivities.map((u) => [u.userId, u.activities === undefined ? [] : u.activities && u.activities.filter((a) => a.titleId === undefined || a.titleId === this.titleId)]),
      );
      for (const xuid of chunk) out.push({ xuid, activities: byUser.has(xuid) ? (byUser.get(xuid) ?? null) : [] });
    }
    return out;
  }

  /**
   * Reports who played with whom (POST /titles/{titleId}/recentplayergroups/server):
   * 1..20 groups of 2..100 players.
   */
  async reportRecentPlayerGroups(groups: readonly RecentPlayerGroupInput[], options: CallOptions = {}): Promise<void> {
    const recentPlayerGroups = parseInput(recentPlayerGroupsSchema, groups, 'recentPlayerGroups', ['recentPlayerGroups']);
    await this.#call('POST', `/titles/${this.titleId}/recentplayergroups/server`, { recentPlayerGroups }, options);
  }

  #activityPath(xuid: string): string {
    return `/titles/${this.titleId}/users/${xuid}/activities`;
  }

  #read<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
    const result = schema.safeParse(value);
    if (!result.success) throw new MpaTransportError('body', `unexpected answer shape: ${result.error.issues[0]?.message ?? 'invalid'}`, { status: 200, cause: result.error });
    return result.data;
  }

  /**
   * Sends one request; on 401 once more with a refreshed token, and on a Signature refused for
   * its timestamp (the provider says so) once more signed anew: at most three sends, never a
   * loop. Returns the parsed JSON body, if any.
   */
  async #call(method: string, path: string, body: unknown, rawOptions: CallOptions | undefined, xuid?: string): Promise<unknown> {
    const options = callOptions(rawOptions);
    const bytes = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    let sent = await this.#send(method, path, bytes, xuid, options, undefined);
    let refreshed = false;
    let resigned = false;
    for (;;) {
      if (sent.answer.status === 401 && !refreshed) {
        refreshed = true;
        sent = await this.#send(method, path, bytes, xuid, options, sent.authorization);
      } else if (sent.resign && !resigned) {
        resigned = true;
        sent = await this.#send(method, path, bytes, xuid, options, undefined);
      } else break;
    }
    const { answer } = sent;
    if (answer.status >= 200 && answer.status < 300) return answerJson(answer);
    throw answerError(answer, { now: this.#now(), capMs: this.#retryAfterCapMs }, sent.signed);
  }

  /**
   * One attempt. The timeout and the caller's signal cover getting the token as well as the
   * request: a provider that never answers cannot hang a call.
   */
  async #send(
    method: string,
    path: string,
    body: Buffer | undefined,
    xuid: string | undefined,
    options: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined },
    refused: string | undefined,
  ): Promise<{ answer: Answer; authorization: string; signed: boolean; resign: boolean }> {
    // The call's signal: aborted at the timeout or when the caller's signal aborts.
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const deadline = this.#deadlines.start(timeoutMs, options.signal);
    const signal = deadline.signal;
    let stage = 'sending';
    try {
      stage = 'getting the authorization token';
      const credentials = await this.#credentials({
        forceRefresh: refused !== undefined,
        refused,
        signal,
        method,
        url: this.baseUrl + path,
        // The paths this client builds are already in URL form (validated ids, no query), and
        // baseUrl carries no query: no URL parse per request.
        pathAndQuery: this.#basePath + path,
        body,
        xuid,
      });
      stage = 'sending';
      const headers: Record<string, string> = {
        Authorization: credentials.authorization,
        'Content-Type': 'application/json',
        'x-xbl-contract-version': '1',
        'User-Agent': this.#userAgent,
        Accept: 'application/json',
      };
      if (credentials.signature !== undefined) headers.Signature = credentials.signature;
      if (this.#locale !== undefined) headers['Accept-Language'] = this.#locale;
      const response = await this.#fetch(this.baseUrl + path, { method, headers, body, signal });
      const resign = this.#observe !== undefined && this.#observed(response, credentials.signature);
      // Read the body under the same timeout: a hung body is as bad as a hung header. A
      // bodiless answer (every 204, the common PUT and DELETE answer) has nothing to read: no
      // promise and no stream to drain for it.
      const text = response.body === null ? '' : await response.text();
      return {
        // Status, headers and text: no second Response built around a body already read.
        answer: { status: response.status, headers: response.headers, text },
        authorization: credentials.authorization,
        signed: credentials.signature !== undefined,
        resign,
      };
    } catch (cause) {
      if (cause instanceof MpaError) throw cause;
      const during = stage === 'sending' ? '' : ` while ${stage}`;
      if (deadline.timedOut) throw new MpaTransportError('timeout', `${method} timed out after ${timeoutMs} ms${during}`, { cause });
      if (options.signal?.aborted) throw new MpaTransportError('aborted', `${method} aborted by the caller${during}`, { cause });
      throw new MpaTransportError('network', `${method} failed on the network: ${describe(cause)}`, { cause });
    } finally {
      deadline.release();
    }
  }

  /** Asks the provider for credentials, under the call's signal, and checks what it gave. */
  async #credentials(request: AuthorizationRequest): Promise<{ authorization: string; signature: string | undefined }> {
    let result: AuthorizationResult;
    try {
      // A provider that answers at once (a cached token) costs no promise and no listener; one
      // that answers later is raced against the call's signal, as it may not honour it.
      const given = this.#authorization(request);
      result = isPromiseLike(given) ? await raceSignal(Promise.resolve(given), request.signal) : given;
    } catch (cause) {
      if (request.signal.aborted || cause instanceof MpaError) throw cause;
      throw new MpaAuthorizationError('the authorization provider failed', { cause });
    }
    const authorization = typeof result === 'string' ? result : result?.authorization;
    const signature = typeof result === 'string' ? undefined : result?.signature;
    if (typeof authorization !== 'string' || authorization.length === 0) throw new MpaAuthorizationError('the authorization provider returned no header value', {});
    if (CONTROL.test(authorization)) {
      throw new MpaAuthorizationError('the authorization provider returned a value with CR, LF or another control character; refused before sending (value not shown)', {});
    }
    if (signature !== undefined && (typeof signature !== 'string' || !/^[A-Za-z0-9+/=]+$/.test(signature))) {
      throw new MpaAuthorizationError('the authorization provider returned a Signature that is not base64; refused before sending (value not shown)', {});
    }
    return { authorization, signature };
  }

  /** Tells the provider about an answer; true when it asks for the call to be signed again. */
  #observed(response: Response, signature: string | undefined): boolean {
    try {
      return this.#observe!({ status: response.status, date: response.headers.get('date') ?? undefined, signature }) === true;
    } catch (cause) {
      throw new MpaAuthorizationError('the authorization provider failed in observeResponse', { cause });
    }
  }
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function describe(cause: unknown): string {
  if (cause instanceof Error) {
    const code = (cause.cause as { code?: unknown } | undefined)?.code;
    return typeof code === 'string' ? code : cause.message;
  }
  return String(cause);
}

const NO_OPTIONS: CallOptions = Object.freeze({});

/** Checks per-call options. */
function callOptions(raw: CallOptions | undefined): CallOptions {
  if (raw === undefined) return NO_OPTIONS;
  return parseInput(callOptionsSchema, raw, 'call options', ['options']);
}

