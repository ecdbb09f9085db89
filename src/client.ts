/**
 * MpaClient: every documented Multiplayer Activity call, validated before it is sent and
 * mapped to one error hierarchy when it fails. Exactly one attempt per call (two when a 401
 * asks for a fresh token): retry policy belongs to the session engine.
 */
import { z } from 'zod';
import {
  MpaAuthorizationError,
  MpaError,
  MpaRequestRejectedError,
  MpaServerError,
  MpaThrottledError,
  MpaTransportError,
  MpaValidationError,
} from './errors.js';
import { parseRetryAfter } from './retry-after.js';
import {
  activityInputSchema,
  activitySchema,
  deleteInputSchema,
  errorResponseSchema,
  inviteInputSchema,
  LIMITS,
  parseInput,
  queryInputSchema,
  queryResponseSchema,
  recentPlayerGroupsSchema,
  throttledEntitySchema,
  titleIdSchema,
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

/**
 * Returns the `Authorization` header value, `XBL3.0 x=<userhash>;<token>`. Called before each
 * call; `forceRefresh` is true once after the service answered 401.
 */
export type AuthorizationProvider = (request: { forceRefresh: boolean }) => string | Promise<string>;

/** Options of {@link MpaClient}. */
export interface MpaClientOptions {
  /** The title id, 1..2^32-1, as a number or decimal string. Required. */
  titleId: number | string;
  /** Supplies the XBL3.0 authorization header. Required. */
  authorization: AuthorizationProvider;
  /** Service root. Default `https://multiplayeractivity.xboxlive.com`. */
  baseUrl?: string;
  /** Per-call timeout in milliseconds. Default 10 000. */
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

const clientOptionsSchema = z.object({
  titleId: titleIdSchema,
  authorization: z.custom<AuthorizationProvider>((v) => typeof v === 'function', { error: 'authorization must be a function' }),
  baseUrl: z.string().url({ error: 'baseUrl must be an absolute URL' }).optional(),
  timeoutMs: z.number().int().positive({ error: 'timeoutMs must be a positive integer' }).optional(),
  retryAfterCapMs: z.number().int().nonnegative().optional(),
});

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
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #retryAfterCapMs: number;
  readonly #userAgent: string;
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
    this.#authorization = parsed.authorization;
    this.#fetch = options.fetch ?? ((...args) => globalThis.fetch(...args));
    this.#timeoutMs = parsed.timeoutMs ?? 10_000;
    this.#retryAfterCapMs = parsed.retryAfterCapMs ?? 300_000;
    this.#userAgent = `mpa-sync/${VERSION} (node ${process.versions.node})${options.userAgent ? ` ${options.userAgent}` : ''}`;
    this.#now = options.now ?? (() => Date.now());
  }

  /**
   * Sets or replaces a user's activity (PUT). `sequenceNumber` must grow with every write for
   * that user; it is sent as a decimal string.
   */
  async setActivity(xuid: XuidInput, activity: ActivityInput, options: CallOptions = {}): Promise<void> {
    const user = parseInput(xuidSchema, xuid, 'xuid', ['xuid']);
    const body = parseInput(activityInputSchema, activity, 'activity');
    await this.#call('PUT', this.#activityPath(user), { ...body, sequenceNumber: body.sequenceNumber.toString() }, options);
  }

  /** Reads a user's activity (GET): `null` when there is none (204). */
  async getActivity(xuid: XuidInput, options: CallOptions = {}): Promise<Activity | null> {
    const user = parseInput(xuidSchema, xuid, 'xuid', ['xuid']);
    const answer = await this.#call('GET', this.#activityPath(user), undefined, options);
    return answer === undefined ? null : this.#read(activitySchema, answer);
  }

  /** Deletes a user's activity (DELETE). */
  async deleteActivity(xuid: XuidInput, input: DeleteInput, options: CallOptions = {}): Promise<void> {
    const user = parseInput(xuidSchema, xuid, 'xuid', ['xuid']);
    const body = parseInput(deleteInputSchema, input, 'delete request');
    await this.#call('DELETE', this.#activityPath(user), { sequenceNumber: body.sequenceNumber.toString() }, options);
  }

  /** Sends a server invite to 1..16 users on behalf of `sender`. */
  async sendServerInvite(input: InviteInput, options: CallOptions = {}): Promise<void> {
    const body = parseInput(inviteInputSchema, input, 'invite');
    await this.#call('POST', `/titles/${this.titleId}/invites/server`, body, options);
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
      const byUser = new Map(parsed.userActivities.map((u) => [u.userId, u.activities]));
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

  /** Sends one request; on 401 once more with a refreshed token. Returns the parsed JSON body, if any. */
  async #call(method: string, path: string, body: unknown, options: CallOptions): Promise<unknown> {
    let response = await this.#send(method, path, body, options, false);
    if (response.status === 401) response = await this.#send(method, path, body, options, true);
    if (response.status >= 200 && response.status < 300) {
      if (response.status === 204) return undefined;
      return this.#json(response);
    }
    throw await this.#failure(response);
  }

  async #send(method: string, path: string, body: unknown, options: CallOptions, forceRefresh: boolean): Promise<Response> {
    let token: string;
    try {
      token = await this.#authorization({ forceRefresh });
    } catch (cause) {
      throw new MpaAuthorizationError('the authorization provider failed', { cause });
    }
    if (typeof token !== 'string' || token.length === 0) throw new MpaAuthorizationError('the authorization provider returned no header value', {});

    // Timers are taken from the global object at call time so that fake timers govern them.
    const controller = new AbortController();
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onAbort = () => controller.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) controller.abort();
    try {
      const response = await this.#fetch(this.baseUrl + path, {
        method,
        headers: {
          Authorization: token,
          'Content-Type': 'application/json',
          'x-xbl-contract-version': '1',
          'User-Agent': this.#userAgent,
          Accept: 'application/json',
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
      });
      // Read the body under the same timeout: a hung body is as bad as a hung header.
      const text = await response.text();
      return new Response(response.status === 204 || text.length === 0 ? null : text, { status: response.status, headers: response.headers });
    } catch (cause) {
      if (timedOut) throw new MpaTransportError('timeout', `${method} timed out after ${timeoutMs} ms`, { cause });
      if (options.signal?.aborted) throw new MpaTransportError('aborted', `${method} aborted by the caller`, { cause });
      throw new MpaTransportError('network', `${method} failed on the network: ${describe(cause)}`, { cause });
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async #json(response: Response): Promise<unknown> {
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new MpaTransportError('body', `answer ${response.status} is not JSON`, { status: response.status, cause });
    }
  }

  async #failure(response: Response): Promise<MpaError> {
    const status = response.status;
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), { now: this.#now(), capMs: this.#retryAfterCapMs });
    if (status === 429 || (status === 503 && retryAfterMs !== undefined)) {
      const entity = json === undefined ? undefined : throttledEntitySchema.safeParse(json);
      const throttle = entity?.success ? entity.data : undefined;
      const message = `throttled (${status})${retryAfterMs !== undefined ? `, retry after ${retryAfterMs} ms` : ''}${throttle?.debugMessage ? `: ${throttle.debugMessage}` : ''}`;
      return new MpaThrottledError(message, { status, retryAfterMs, throttle, debugMessage: throttle?.debugMessage });
    }
    const parsed = errorResponseSchema.safeParse(json);
    const errorCode = parsed.success ? parsed.data.errorCode : undefined;
    const debugMessage = parsed.success ? parsed.data.debugMessage : undefined;
    const details = { status, errorCode, debugMessage };
    const says = `${status}${errorCode ? ` ${errorCode}` : ''}${debugMessage ? `: ${debugMessage}` : ''}`;
    if (status === 401 || status === 403 || errorCode === 'AuthorizationError') return new MpaAuthorizationError(`not authorized (${says})`, details);
    if (status >= 500 || status === 408) return new MpaServerError(`service error (${says})`, details);
    return new MpaRequestRejectedError(`request rejected (${says})`, details);
  }
}

function describe(cause: unknown): string {
  if (cause instanceof Error) {
    const code = (cause.cause as { code?: unknown } | undefined)?.code;
    return typeof code === 'string' ? code : cause.message;
  }
  return String(cause);
}
