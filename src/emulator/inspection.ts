/**
 * The emulator's JSON inspection routes under `/_emulator/`: what the emulated service holds
 * (activities, as a friend would see them), the latest requests, every user's rate-limit
 * windows, and fault injection. They answer from the core's public read API only, so the live
 * page and any non-JavaScript test harness see the same thing. No HTTP here: `inspection-http.ts`
 * decides who may ask and puts these answers on the socket.
 */
import { z } from 'zod';
import type { RateCategory } from '../rate-limits.js';
import { FAULT_COUNT_MAX, FAULT_KINDS, RETRY_AFTER_MAX_SECONDS, type EmulatorCore, type EmulatorCounters, type FaultKind, type LoggedRequest, type StoredActivity } from './core.js';
import type { S2sCredentials } from './s2s.js';

/** How a friend sees a player's activity in the Xbox shell, e.g. "In a match · 5/8 · Joinable by followers". */
export interface Presence {
  /** The line a friend reads. */
  text: string;
  /** Whether a friend could join now (not invite-only, not full). */
  joinable: boolean;
  /** Why not, when not joinable. */
  blockedBy?: 'full' | 'invite-only';
}

/** An activity as `GET /_emulator/activities` shows it. */
export interface InspectedActivity extends StoredActivity {
  presence: Presence;
}

/** One request as `GET /_emulator/requests` shows it. */
export interface InspectedRequest {
  /** Increasing id; pass the last one seen as `since` to get only newer requests. */
  id: number;
  time: number;
  method: string;
  path: string;
  xuid?: string | undefined;
  /** HTTP status; 0 when the emulator answered nothing (an injected reset or hang). */
  status: number;
  /** `ok` (2xx), `throttled` (429, injected or not), `fault` (another injected fault), `refused` (other 4xx), `error` (5xx). */
  outcome: 'ok' | 'throttled' | 'fault' | 'refused' | 'error';
  fault?: FaultKind | undefined;
  retryAfterMs?: number | undefined;
  /** What the request asked for, in a few words ("PUT 5/8 Followed"). */
  detail: string;
}

/** A user's use of one rate window. */
export interface WindowGauge {
  used: number;
  allowed: number;
  windowMs: number;
}

/** A user's rate-limit windows as `GET /_emulator/budgets` shows them. */
export interface PlayerBudget {
  /** 0 for a player listed only because they were told to wait (nothing counted for them). */
  titleId: number;
  xuid: string;
  /** Only categories the user has used in the sustain window. */
  categories: Partial<Record<RateCategory, { burst: WindowGauge; sustain: WindowGauge }>>;
  /** Windows with no room left, e.g. `write burst`. */
  full: string[];
  /** Until when (ms since epoch) the user was told to wait by its latest 429 or 503, if that is still ahead. */
  throttledUntil?: number | undefined;
}

/**
 * Where the S2S token endpoints are, as `GET /_emulator/s2s` shows them (never the key or the
 * certificates: those go to files or stay in the process).
 */
export interface InspectedS2s {
  serviceAuthUrl: string;
  xstsUrl: string;
  sandboxId: string;
  /** Tokens issued so far (in the route's answer; the index leaves it out). */
  issued?: { serviceTokens: number; xstsTokens: number };
}

/** A routed answer: status, JSON body. */
export interface InspectionAnswer {
  status: number;
  body: unknown;
}

const faultRequest = z.strictObject({
  kind: z.enum(FAULT_KINDS),
  count: z.number().int().min(1).max(FAULT_COUNT_MAX).default(1),
  retryAfterSeconds: z.number().int().min(0).max(RETRY_AFTER_MAX_SECONDS).optional(),
});
const XUID = /^\d{1,20}$/;
const REQUEST_PAGE_MAX = 1000;

/** The line a friend reads for an activity, and whether they could join. */
export function presenceOf(activity: Pick<StoredActivity, 'joinRestriction' | 'currentPlayers' | 'maxPlayers'>): Presence {
  const { currentPlayers: current, maxPlayers: max, joinRestriction } = activity;
  const parts = ['In a match'];
  if (current !== undefined && max !== undefined) parts.push(`${current}/${max}`);
  else if (current !== undefined) parts.push(`${current} playing`);
  let blockedBy: Presence['blockedBy'];
  // Invite-only wins over full: a friend cannot join either way, and "Invite only" says why
  // even when a seat frees up.
  if (joinRestriction === 'InviteOnly') blockedBy = 'invite-only';
  else if (current !== undefined && max !== undefined && current >= max) blockedBy = 'full';
  if (blockedBy === 'invite-only') parts.push('Invite only');
  else if (blockedBy === 'full') parts.push('Full');
  else parts.push(joinRestriction === 'Public' ? 'Joinable by anyone' : 'Joinable by followers');
  return blockedBy ? { text: parts.join(' · '), joinable: false, blockedBy } : { text: parts.join(' · '), joinable: true };
}

/**
 * Answers the JSON inspection routes from an {@link EmulatorCore}. One per emulator: it keeps
 * the ids it gave to logged requests, so `since` works however the core stores its log.
 */
export class EmulatorInspection {
  readonly #core: EmulatorCore;
  readonly #s2s: S2sCredentials | undefined;
  readonly #ids = new WeakMap<LoggedRequest, number>();
  #lastId = 0;

  /** `s2s`: the emulator's S2S credentials when S2S is on (only their URLs and sandbox are shown). */
  constructor(core: EmulatorCore, s2s?: S2sCredentials) {
    this.#core = core;
    this.#s2s = s2s;
  }

  /** The answer to `method path` (path may carry a query), or `undefined` when it is not an inspection route. */
  answer(method: string, pathWithQuery: string, body: string): InspectionAnswer | undefined {
    const url = new URL(pathWithQuery, 'http://emulator.invalid');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const get = method === 'GET' || method === 'HEAD';
    if (path === '/_emulator') return get ? ok(this.index()) : notAllowed(method, path);
    if (path === '/_emulator/activities') return get ? ok({ now: this.#core.now(), activities: this.activities() }) : notAllowed(method, path);
    if (path.startsWith('/_emulator/activities/')) {
      if (!get) return notAllowed(method, path);
      const xuid = path.slice('/_emulator/activities/'.length);
      if (!XUID.test(xuid)) return refused(400, 'RequestValidationError', 'xuid: must be a decimal Xbox user id');
      const titleParam = url.searchParams.get('titleId');
      const titleId = titleParam === null ? undefined : Number(titleParam);
      if (titleId !== undefined && !Number.isInteger(titleId)) return refused(400, 'RequestValidationError', 'titleId: must be an integer');
      const activity = this.#core.activity(xuid, titleId);
      return activity ? ok(inspect(activity)) : refused(404, 'NotFound', `no live activity for ${xuid}`);
    }
    if (path === '/_emulator/requests') {
      if (!get) return notAllowed(method, path);
      const since = Number(url.searchParams.get('since') ?? 0);
      const limit = Number(url.searchParams.get('limit') ?? 200);
      if (!Number.isInteger(since) || since < 0) return refused(400, 'RequestValidationError', 'since: must be a request id (an integer >= 0)');
      if (!Number.isInteger(limit) || limit < 1 || limit > REQUEST_PAGE_MAX) return refused(400, 'RequestValidationError', `limit: must be 1..${REQUEST_PAGE_MAX}`);
      return ok(this.requests(since, limit));
    }
    if (path === '/_emulator/budgets') return get ? ok(this.budgets()) : notAllowed(method, path);
    if (path === '/_emulator/s2s') {
      if (!get) return notAllowed(method, path);
      const s2s = this.s2s();
      return s2s ? ok({ ...s2s, issued: { ...this.#s2s!.issued } }) : refused(404, 'NotFound', 'S2S authentication is off (start the emulator with --s2s or s2s: true)');
    }
    if (path === '/_emulator/faults') {
      if (get) return ok({ pending: this.#core.pendingFaults() });
      if (method !== 'POST') return notAllowed(method, path);
      return this.#injectFault(body);
    }
    return undefined;
  }

  /** Every route, for `GET /_emulator`, and where the S2S token endpoints are (`null` without S2S). */
  index() {
    return {
      page: '/',
      s2s: this.s2s() ?? null,
      routes: [
        'GET /_emulator/activities',
        'GET /_emulator/activities/{xuid}?titleId=',
        'GET /_emulator/requests?since={id}&limit={n}',
        'GET /_emulator/budgets',
        'GET /_emulator/faults',
        'POST /_emulator/faults {"kind","count","retryAfterSeconds"}',
        'GET /_emulator/s2s',
      ],
    };
  }

  /** The S2S token endpoints' URLs and sandbox, or `undefined` when S2S is off. */
  s2s(): InspectedS2s | undefined {
    const s2s = this.#s2s;
    return s2s && { serviceAuthUrl: s2s.serviceAuthUrl, xstsUrl: s2s.xstsUrl, sandboxId: s2s.sandboxId };
  }

  /** Live activities with what a friend sees, by group then user. */
  activities(): InspectedActivity[] {
    return this.#core
      .activities()
      .sort((a, b) => (a.groupId ?? '').localeCompare(b.groupId ?? '') || a.xuid.localeCompare(b.xuid) || a.titleId - b.titleId)
      .map(inspect);
  }

  /** Requests newer than `since`, oldest first, at most `limit` (the newest ones). */
  requests(since: number, limit: number): { now: number; last: number; totals: EmulatorCounters; requests: InspectedRequest[] } {
    const log = this.#log();
    const fresh: InspectedRequest[] = [];
    for (let i = log.length - 1; i >= 0 && fresh.length < limit; i--) {
      const id = this.#ids.get(log[i]!)!;
      if (id <= since) break;
      fresh.push(describe(id, log[i]!));
    }
    const c = this.#core.counters;
    const totals = { ...c, byStatus: { ...c.byStatus }, byMethod: { ...c.byMethod } };
    return { now: this.#core.now(), last: this.#lastId, totals, requests: fresh.reverse() };
  }

  /** Every user's rate windows now, and who is waiting out a Retry-After. */
  budgets(): { now: number; limits: EmulatorCore['rateLimits'] | null; throttledNow: { xuid: string; until: number; status: number }[]; players: PlayerBudget[] } {
    const now = this.#core.now();
    const waiting = this.#waiting(now);
    const players = new Map<string, PlayerBudget>();
    for (const { category, key, windows } of this.#core.rateUsage()) {
      const [burst, sustain] = windows;
      if (!burst || !sustain || (burst.used === 0 && sustain.used === 0)) continue;
      const slash = key.indexOf('/');
      const titleId = Number(key.slice(0, slash));
      const xuid = key.slice(slash + 1);
      const player = players.get(key) ?? { titleId, xuid, categories: {}, full: [] };
      player.categories[category] = { burst: gauge(burst), sustain: gauge(sustain) };
      if (burst.used >= burst.limit) player.full.push(`${category} burst`);
      if (sustain.used >= sustain.limit) player.full.push(`${category} sustain`);
      const until = waiting.get(xuid)?.until;
      if (until !== undefined) player.throttledUntil = until;
      players.set(key, player);
    }
    // A player told to wait shows up even when nothing was counted for them (an injected 429
    // on their first request): "who is throttled" is the first thing a person looks for.
    for (const [xuid, w] of waiting) {
      if (![...players.values()].some((p) => p.xuid === xuid)) players.set(`?/${xuid}`, { titleId: 0, xuid, categories: {}, full: [], throttledUntil: w.until });
    }
    const throttledNow = [...waiting].map(([xuid, w]) => ({ xuid, ...w })).sort((a, b) => b.until - a.until);
    return { now, limits: this.#core.rateLimits ?? null, throttledNow, players: [...players.values()].sort((a, b) => a.xuid.localeCompare(b.xuid) || a.titleId - b.titleId) };
  }

  /** Users whose latest answer told them to wait, and the wait is not over. */
  #waiting(now: number): Map<string, { until: number; status: number }> {
    const log = this.#log();
    const seen = new Set<string>();
    const waiting = new Map<string, { until: number; status: number }>();
    for (let i = log.length - 1; i >= 0; i--) {
      const entry = log[i]!;
      if (!entry.xuid || seen.has(entry.xuid)) continue;
      seen.add(entry.xuid);
      if (entry.retryAfterSeconds === undefined || !Number.isFinite(entry.retryAfterSeconds)) continue;
      const until = entry.time + entry.retryAfterSeconds * 1000;
      if (until > now) waiting.set(entry.xuid, { until, status: entry.status });
    }
    return waiting;
  }

  #injectFault(body: string): InspectionAnswer {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return refused(400, 'RequestValidationError', 'body: must be JSON like {"kind":"429","retryAfterSeconds":5}');
    }
    const result = faultRequest.safeParse(parsed);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      return refused(400, 'RequestValidationError', `${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    const { kind, count, retryAfterSeconds } = result.data;
    this.#core.failNext(kind, count, retryAfterSeconds);
    return { status: 202, body: { pending: this.#core.pendingFaults() } };
  }

  /** The core's retained log, each entry with an id (new entries get the next ids, in order). */
  #log(): readonly LoggedRequest[] {
    const log = [...this.#core.log];
    let first = log.length;
    while (first > 0 && !this.#ids.has(log[first - 1]!)) first--;
    for (let i = first; i < log.length; i++) this.#ids.set(log[i]!, ++this.#lastId);
    return log;
  }
}

function inspect(activity: StoredActivity): InspectedActivity {
  return { ...activity, presence: presenceOf(activity) };
}

function gauge(window: { used: number; limit: number; windowMs: number }): WindowGauge {
  return { used: window.used, allowed: window.limit, windowMs: window.windowMs };
}

function describe(id: number, entry: LoggedRequest): InspectedRequest {
  // A 429 is a throttle whoever caused it (an injected one also names its `fault`).
  const outcome: InspectedRequest['outcome'] = entry.status === 429 || entry.throttled
    ? 'throttled'
    : entry.fault
      ? 'fault'
      : entry.status >= 200 && entry.status < 300
        ? 'ok'
        : entry.status >= 500
          ? 'error'
          : 'refused';
  const retryAfterMs = entry.retryAfterSeconds !== undefined && Number.isFinite(entry.retryAfterSeconds) ? entry.retryAfterSeconds * 1000 : undefined;
  return {
    id,
    time: entry.time,
    method: entry.method,
    path: entry.path,
    xuid: entry.xuid,
    status: entry.status,
    outcome,
    ...(entry.fault && { fault: entry.fault }),
    ...(retryAfterMs !== undefined && { retryAfterMs }),
    detail: detailOf(entry),
  };
}

/** A few words about what the request asked for, from its body. */
function detailOf(entry: LoggedRequest): string {
  const body = entry.body && typeof entry.body === 'object' ? (entry.body as Record<string, unknown>) : {};
  if (entry.method === 'PUT') {
    const count = body.currentPlayers !== undefined ? `${String(body.currentPlayers)}/${String(body.maxPlayers ?? '?')} ` : '';
    return `${count}${String(body.joinRestriction ?? '')}`.trim();
  }
  if (entry.method === 'DELETE') return 'leave';
  if (entry.path.includes('/invites/')) return `invite ${Array.isArray(body.invitedUsers) ? body.invitedUsers.length : 0}`;
  if (entry.path.includes('/recentplayergroups/')) return 'recent players';
  if (entry.path.includes('/activities/query')) return `query ${Array.isArray(body.users) ? body.users.length : 0}`;
  return entry.method === 'GET' ? 'read' : '';
}

function ok(body: unknown): InspectionAnswer {
  return { status: 200, body };
}

function refused(status: number, errorCode: string, debugMessage: string): InspectionAnswer {
  return { status, body: { errorCode, debugMessage } };
}

function notAllowed(method: string, path: string): InspectionAnswer {
  return refused(405, 'MethodNotAllowed', `${method} is not allowed on ${path}`);
}
