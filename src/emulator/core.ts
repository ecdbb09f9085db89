/**
 * The emulator's service logic, independent of HTTP: `EmulatorCore` serves one request at a
 * time through its parts (routes, authorization, rate limits, faults, the store, the request
 * log) and is the one object tests and the transports talk to. `server.ts` puts it on a
 * socket; `inProcessFetch` serves it without one.
 */
import { sleep } from '../sleep.js';
import type { RateLimitConfig } from '../rate-limits.js';
import { json, Refusal, type CoreRequest, type CoreResponse } from './answers.js';
import { Authorization } from './authorization.js';
import { senderOf, serveCall, type RecordedInvite, type RecordedRecentPlayerGroup, type ServiceState } from './calls.js';
import { faultResponse, Faults, type FaultKind } from './faults.js';
import { RateLimits, type RateUsage } from './limits.js';
import { checkEmulatorOptions, DEFAULT_EXPIRY_MS, DEFAULT_LOG_SIZE, type EmulatorOptions } from './options.js';
import { RequestLog, type EmulatorCounters, type LoggedRequest } from './request-log.js';
import { RingBuffer } from './ring-buffer.js';
import { parseTitleId, parseXuid, routeOf, type Route } from './routes.js';
import { ActivityStore, type StoredActivity } from './store.js';

export type { CoreRequest, CoreResponse } from './answers.js';
export type { AuthorizationCheck } from './authorization.js';
export type { RecordedInvite, RecordedRecentPlayerGroup } from './calls.js';
export { FAULT_COUNT_MAX, FAULT_KINDS, RETRY_AFTER_MAX_SECONDS, type FaultKind, type FaultOptions } from './faults.js';
export type { RateUsage } from './limits.js';
export { checkEmulatorOptions, EMULATOR_OPTION_KEYS, type EmulatorOptions } from './options.js';
export type { EmulatorCounters, LoggedRequest } from './request-log.js';
export type { StoredActivity } from './store.js';

/** What a log entry adds to the request: set where the answer is decided. */
type Outcome = Pick<LoggedRequest, 'fault' | 'throttled' | 'retryAfterSeconds'> & {
  /** The subject when the path does not say it (an invite's sender). */
  xuid?: string | undefined;
};

/** The emulated service: every request in, an answer (or a dropped connection) out. */
export class EmulatorCore {
  readonly #options: EmulatorOptions;
  readonly #authorization: Authorization;
  readonly #limits: RateLimits;
  readonly #faults: Faults;
  readonly #log: RequestLog;
  readonly #state: ServiceState;
  /** Requests waiting out `latencyMs`, per user: for `counters.maxConcurrentPerUser`. */
  readonly #inFlight = new Map<string, number>();

  constructor(options: EmulatorOptions = {}) {
    // A misspelt option (`ratelimits: false`) or a wrong value is refused, not ignored. The
    // options are kept as given (functions compared by identity, `now` read at each call).
    checkEmulatorOptions(options);
    this.#options = options;
    this.#authorization = new Authorization(options.tokens, options.authorize);
    this.#limits = new RateLimits(options.rateLimits);
    this.#faults = new Faults(options.faults);
    const logSize = options.logSize ?? DEFAULT_LOG_SIZE;
    this.#log = new RequestLog(logSize);
    this.#state = {
      store: new ActivityStore(options.expiryMs ?? DEFAULT_EXPIRY_MS),
      invites: new RingBuffer(logSize),
      recentPlayerGroups: new RingBuffer(logSize),
      staleSequence: options.staleSequence ?? 'reject',
    };
  }

  /** Counters of every request since the start or the last {@link EmulatorCore.reset}. */
  get counters(): EmulatorCounters {
    return this.#log.counters;
  }

  /**
   * The most recent requests (at most `logSize`, default 10,000), oldest first, as a new
   * array each time it is read. Assigning an array replaces what is retained (`core.log = []`
   * clears it); mutating the array that was read changes nothing.
   */
  get log(): LoggedRequest[] {
    return this.#log.entries();
  }

  set log(entries: readonly LoggedRequest[]) {
    this.#log.replace(entries);
  }

  /** The most recent invites accepted (at most `logSize`), oldest first; a copy, like `log`. */
  get invites(): RecordedInvite[] {
    return this.#state.invites.toArray();
  }

  set invites(entries: readonly RecordedInvite[]) {
    this.#state.invites.replace(entries);
  }

  /** The most recent recent-player groups accepted (at most `logSize`), oldest first; a copy. */
  get recentPlayerGroups(): RecordedRecentPlayerGroup[] {
    return this.#state.recentPlayerGroups.toArray();
  }

  set recentPlayerGroups(entries: readonly RecordedRecentPlayerGroup[]) {
    this.#state.recentPlayerGroups.replace(entries);
  }

  /** The rate limits in force, or `undefined` when they are turned off. */
  get rateLimits(): RateLimitConfig | undefined {
    return this.#limits.config;
  }

  /** The emulator's clock: `now` from the options, else `Date.now`. */
  now(): number {
    return (this.#options.now ?? Date.now)();
  }

  /** Replaces the accepted Authorization values (`undefined`: any well-formed value). */
  setTokens(tokens: readonly string[] | undefined): void {
    this.#authorization.setTokens(tokens);
  }

  /**
   * Makes the next `count` requests (1 to 1000) fail with `kind`, before any random fault; a
   * 429 or 503-retry-after carries `Retry-After: retryAfterSeconds` (0 to 86,400). Bad
   * arguments throw an {@link MpaValidationError} naming each.
   */
  failNext(kind: FaultKind, count = 1, retryAfterSeconds = this.#faults.defaultRetryAfterSeconds): void {
    this.#faults.queue(kind, count, retryAfterSeconds);
  }

  /** Faults queued by {@link EmulatorCore.failNext} that no request has consumed yet. */
  pendingFaults(): { kind: FaultKind; retryAfterSeconds: number }[] {
    return this.#faults.pending();
  }

  /** Live activities (copies; expired ones are dropped first). */
  activities(): StoredActivity[] {
    return this.#state.store.all(this.now());
  }

  /** One user's live activity (a copy), if any. With several titles, pass the title id. */
  activity(xuid: string, titleId?: number): StoredActivity | undefined {
    // Stored xuids are canonical: any other spelling (or a non-string) names nobody.
    return typeof xuid === 'string' ? this.#state.store.find(xuid, titleId, this.now()) : undefined;
  }

  /** How full every user's rate-limit windows are now. Reads only; for inspection. */
  rateUsage(): RateUsage[] {
    return this.#limits.usage(this.now());
  }

  /** Forgets every activity, sequence number, rate-limit entry, queued fault, log line and counter. */
  reset(): void {
    this.#state.store.clear();
    this.#state.invites.clear();
    this.#state.recentPlayerGroups.clear();
    this.#limits.clear();
    this.#faults.reset();
    this.#log.clear();
  }

  /**
   * Logs and counts an answer the transport gives on its own, before or instead of
   * {@link EmulatorCore.handle}: 413 for a body past the limit, 500 when handling failed. So
   * `log` and `counters` show every answered request.
   */
  refuse(method: string, path: string, status: number, errorCode: string, debugMessage: string): CoreResponse {
    this.#log.add({ time: this.now(), method, path, xuid: undefined, status, body: undefined });
    return json(status, { errorCode, debugMessage });
  }

  /**
   * Serves one request, after `latencyMs` when set; the transports call it for every request.
   * Bad input is an answer (400, 401, 404, 405, 429...), not a rejection.
   */
  async handle(request: CoreRequest): Promise<CoreResponse> {
    const route = routeOf(request.method, request.path);
    const user = route?.xuid ?? '';
    const concurrent = (this.#inFlight.get(user) ?? 0) + 1;
    this.#inFlight.set(user, concurrent);
    const counters = this.counters;
    if (route?.xuid) counters.maxConcurrentPerUser = Math.max(counters.maxConcurrentPerUser, concurrent);
    try {
      // A closed emulator cancels the delay: the request is then served at once, to nobody.
      if (this.#options.latencyMs) await sleep(this.#options.latencyMs, request.signal).catch(() => undefined);
      return this.#serve(request, route);
    } finally {
      const left = (this.#inFlight.get(user) ?? 1) - 1;
      if (left) this.#inFlight.set(user, left);
      else this.#inFlight.delete(user);
    }
  }

  #serve(request: CoreRequest, route: Route | undefined): CoreResponse {
    const time = this.now();
    this.#state.store.sweep(time);
    let body: unknown;
    try {
      body = request.body ? JSON.parse(request.body) : undefined;
    } catch {
      body = request.body; // not JSON: kept as text, for the log and for the check to refuse
    }
    const record = (response: CoreResponse, status: number, outcome: Outcome = {}): CoreResponse => {
      const { xuid = route?.xuid, ...extra } = outcome;
      this.#log.add({ time, method: request.method, path: request.path, xuid, status, body, ...extra });
      return response;
    };

    const fault = this.#faults.draw(request.method);
    if (fault) {
      const response = faultResponse(fault);
      const carriesRetryAfter = fault.kind === '429' || fault.kind === '503-retry-after';
      return record(response, response.kind === 'answer' ? response.status : 0, {
        fault: fault.kind,
        ...(fault.kind === '429' && { throttled: true }),
        ...(carriesRetryAfter && { retryAfterSeconds: fault.retryAfterSeconds }),
      });
    }

    // Set once the subject is the invite's sender rather than what the path says.
    let subject: string | undefined;
    try {
      if (!route) throw new Refusal(404, { errorCode: 'NotFound', debugMessage: `no route for ${request.method} ${request.path}` });
      if (route.kind === 'wrong-method') throw new Refusal(405, { errorCode: 'MethodNotAllowed', debugMessage: `${request.method} is not allowed on ${request.path}` });
      const caller = this.#authorization.callerOf(request);
      const titleId = parseTitleId(route.titleId);
      if (this.#options.titleIds && !this.#options.titleIds.includes(titleId)) {
        throw new Refusal(400, { errorCode: 'AuthorizationError', debugMessage: `the caller may not access title ${titleId}` });
      }
      const xuid = route.xuid === undefined ? caller : parseXuid(route.xuid);
      subject = route.kind === 'invite' ? senderOf(body) : undefined;
      // Invites are limited per sender, recent players and queries per caller, the rest per user.
      this.#limits.admit(route.category, `${titleId}/${subject ?? xuid}`, time);
      const response = serveCall(this.#state, { route, titleId, subject: xuid, body, time });
      return record(response, response.kind === 'answer' ? response.status : 0, subject === undefined ? {} : { xuid: subject });
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      const outcome: Outcome = subject === undefined ? {} : { xuid: subject };
      if (error.status === 429) Object.assign(outcome, { throttled: true, retryAfterSeconds: Number(error.headers['retry-after']) });
      return record(json(error.status, error.body, error.headers), error.status, outcome);
    }
  }
}
