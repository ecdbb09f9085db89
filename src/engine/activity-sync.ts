/**
 * ActivitySync: keeps every player's activity on the service equal to what the game server
 * says, with one XState actor per player, within the service's budgets.
 */
import { EventEmitter } from 'eventemitter3';
import { createActor, type ActorRefFrom } from 'xstate';
import { z } from 'zod';
import type { MpaClient } from '../client.js';
import { MpaClosedError, MpaError, MpaThrottledError, MpaTransportError, MpaUsageError } from '../errors.js';
import type { RandomSource } from '../random.js';
import { DOCUMENTED_RATE_LIMITS, resolveRateLimits, type RateCategory, type RateLimitConfig, type RateLimitOverride } from '../rate-limits.js';
import { LIMITS, parseInput, type RecentPlayerGroupInput, type ThrottledEntity } from '../schemas.js';
import { sleep } from '../sleep.js';
import { SequenceStamper, xboxSequenceNumber, type SequenceSource } from '../sequence.js';
import { fullJitterDelay, retryAfterDelay } from './backoff.js';
import type { InviteResult, PlayerStateName, RecentPlayersResult, SyncEvents, SyncStats } from './events.js';
import { MatchGroup, type GroupHost, type GroupOptions } from './group.js';
import { classifyFailure, createPlayerMachine, type Desired, type FailureKind, type PlayerMachine } from './player-machine.js';
import { PRIORITY, Scheduler, type Lease } from './scheduler.js';

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
   * A change of player count alone waits until the player's previous write is this old, so that
   * one write carries several arrivals and departures. Joins, settings changes and leaves are
   * never paced. Default 15 000 (the burst window); 0 sends every count change as budgets allow.
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
  /** Sequence numbers from the clock. Default {@link xboxSequenceNumber}, the official SDK's scale. */
  sequence?: SequenceSource;
  /** Clock. Default `Date.now`, read at each call so fake timers govern it. */
  now?: () => number;
  /** Random source for jitter. Default `Math.random`. */
  random?: RandomSource;
}

/** What {@link ActivitySync.close} resolves with. */
export interface CloseResult {
  /** Players whose activity may still be on the service: their DELETE did not succeed in time, or was refused for good. */
  undeleted: { xuid: string; groupId: string }[];
}

const optionsSchema = z.object({
  client: z.custom<MpaClient>((v) => typeof v === 'object' && v !== null && 'setActivity' in v, { error: 'client must be an MpaClient' }),
  budgets: z
    .union([
      z.literal(false),
      z.strictObject({
        burstWindowMs: z.number().int().positive().optional(),
        sustainWindowMs: z.number().int().positive().optional(),
        write: z.strictObject({ burst: z.number().int().positive().optional(), sustain: z.number().int().positive().optional() }).optional(),
      }),
    ])
    .optional(),
  budgetMarginMs: z.number().int().nonnegative().default(1000),
  concurrency: z.number().int().positive().default(16),
  countRefreshIntervalMs: z.number().int().nonnegative().default(15_000),
  rateCap: z.object({ cap: z.number().int().positive(), intervalMs: z.number().int().positive() }).optional(),
  backoff: z.object({ baseMs: z.number().int().positive().default(1000), capMs: z.number().int().positive().default(60_000) }).default({ baseMs: 1000, capMs: 60_000 }),
  retryAfterJitterMs: z.number().int().nonnegative().default(250),
  maxAttempts: z.number().int().positive().default(5),
  keepAliveMs: z.number().int().positive().max(23 * 3600_000, { error: 'keepAliveMs must stay under the service’s 24 h expiry (at most 23 h)' }).default(3600_000),
});

type PlayerActor = ActorRefFrom<PlayerMachine>;
interface Player {
  actor: PlayerActor;
  group: MatchGroup | undefined;
  /** Group of the last state handed to the machine, for events after the player left. */
  groupId: string;
  state: PlayerStateName;
}

/**
 * Keeps the Multiplayer Activity of every player of a game server true.
 *
 * @example
 * const sync = new ActivitySync({ client });
 * const match = sync.group({ groupId: 'match-42', connectionString: '203.0.113.7:7777?m=42', maxPlayers: 8 });
 * match.join('2533274800000001');   // PUT
 * await sync.flush();               // everything is on the service
 * const { undeleted } = await sync.close(); // DELETE for everyone
 */
export class ActivitySync extends EventEmitter<SyncEvents> {
  readonly #client: MpaClient;
  readonly #now: () => number;
  readonly #random: RandomSource;
  readonly #stamper: SequenceStamper;
  readonly #scheduler: Scheduler;
  readonly #machine: PlayerMachine;
  readonly #budgets: RateLimitConfig | false;
  readonly #options: z.output<typeof optionsSchema>;
  readonly #players = new Map<string, Player>();
  readonly #groups = new Map<string, MatchGroup>();
  readonly #waiters = new Set<() => void>();
  /** Players who left but whose activity may still be on the service (a DELETE refused for good). */
  readonly #leftovers = new Map<string, string>();
  readonly #stats = { requests: {} as Record<string, Record<string, number>>, coalesced: 0, throttled: 0, retries: 0, superseded: 0, failed: 0, inFlight: 0 };
  readonly #host: GroupHost;
  /** Aborted by close(): stops invites and reports still waiting. */
  readonly #shutdown = new AbortController();
  #closed = false;

  constructor(options: ActivitySyncOptions) {
    super();
    this.#options = parseInput(optionsSchema, options, 'ActivitySync options');
    this.#client = options.client;
    this.#now = options.now ?? (() => Date.now());
    this.#random = options.random ?? Math.random;
    this.#stamper = new SequenceStamper(options.sequence ?? xboxSequenceNumber, this.#now);
    this.#budgets = this.#options.budgets === false ? false : resolveRateLimits(this.#options.budgets);
    this.#scheduler = new Scheduler({
      limits: this.#budgets,
      marginMs: this.#options.budgetMarginMs,
      concurrency: this.#options.concurrency,
      rateCap: this.#options.rateCap,
      countRefreshIntervalMs: this.#options.countRefreshIntervalMs,
      now: this.#now,
    });
    this.#machine = createPlayerMachine({
      acquire: (xuid, priority, signal) => this.#scheduler.acquire(xuid, priority, signal),
      send: (xuid, desired, lease, attempt, signal) => this.#send(xuid, desired, lease, attempt, signal),
      retryDelay: (xuid, desired, error, attempt) => this.#retryDelay(xuid, desired, error, attempt),
      stamp: (xuid) => this.#stamper.next(xuid),
      settled: (xuid, desired, outcome, error) => this.#settled(xuid, desired, outcome, error),
      coalesced: () => void this.#stats.coalesced++,
      keepAliveMs: this.#options.keepAliveMs,
    });
    this.#host = {
      desire: (xuid, desired) => this.#desire(xuid, desired),
      stamp: (xuid) => this.#stamper.next(xuid),
      claim: (xuid, group) => this.#claim(xuid, group),
      release: (group) => this.#groups.get(group.groupId) === group && this.#groups.delete(group.groupId),
      settled: (xuids) => this.#until(() => xuids.every((x) => this.#isSettled(x))),
      assertOpen: () => this.#assertOpen(),
      invite: (group, sender, xuids) => this.#invite(group, sender, xuids),
      now: () => this.#now(),
      onError: (error, groupId) => void this.emit('error', { groupId, error }),
      reportRecentPlayers: (group, groups) => this.#reportRecentPlayers(group, groups),
    };
  }

  /**
   * Creates a group (a match, room or server instance). Its `groupId` must be unique among open
   * groups; throws {@link MpaUsageError} otherwise, {@link MpaValidationError} for bad settings.
   */
  group(options: GroupOptions): MatchGroup {
    this.#assertOpen();
    const group = new MatchGroup(options, this.#host);
    if (this.#groups.has(group.groupId)) throw new MpaUsageError(`group ${group.groupId} already exists; use getGroup() or close it first`);
    this.#groups.set(group.groupId, group);
    return group;
  }

  /** The open group with this id, if any. */
  getGroup(groupId: string): MatchGroup | undefined {
    return this.#groups.get(groupId);
  }

  /** Open groups. */
  get groups(): readonly MatchGroup[] {
    return [...this.#groups.values()];
  }

  /** The state of a player's machine (`undefined`: not tracked). */
  playerState(xuid: string): PlayerStateName | undefined {
    return this.#players.get(xuid)?.state;
  }

  /**
   * Resolves when every desired state is on the service (or was refused for good): no player
   * is queued, sending or waiting to retry.
   */
  flush(): Promise<void> {
    return this.#until(() => [...this.#players.keys()].every((x) => this.#isSettled(x)));
  }

  /**
   * Every player leaves; DELETEs go out as budgets and Retry-After allow, until `timeoutMs`
   * (default 10 000). Resolves with the players whose DELETE did not succeed. Later calls throw
   * {@link MpaClosedError}; calling close again returns the same kind of result.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<CloseResult> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    // Closing a group leaves everyone and sends its recent-players report, if it has one.
    const closing = this.#closed ? [] : [...this.#groups.values()].map((group) => group.close().catch(() => undefined));
    this.#groups.clear();
    this.#closed = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all([this.flush(), ...closing]), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    const undeleted: CloseResult['undeleted'] = [...this.#leftovers].map(([xuid, groupId]) => ({ xuid, groupId }));
    for (const [xuid, player] of this.#players) {
      const snapshot = player.actor.getSnapshot();
      const c = snapshot.context;
      const unsettled = !this.#isSettled(xuid) || (c.mayHold && !c.superseded);
      if (unsettled) undeleted.push({ xuid, groupId: player.groupId });
      player.actor.stop();
    }
    this.#players.clear();
    this.#shutdown.abort();
    for (const wake of this.#waiters) wake();
    return { undeleted };
  }

  /** Counters since construction, plus what is under way now. */
  stats(): SyncStats {
    let pending = 0;
    for (const p of this.#players.values()) if (p.state === 'queued' || p.state === 'backoff') pending++;
    return {
      requests: structuredClone(this.#stats.requests),
      coalesced: this.#stats.coalesced,
      throttled: this.#stats.throttled,
      retries: this.#stats.retries,
      superseded: this.#stats.superseded,
      failed: this.#stats.failed,
      inFlight: this.#stats.inFlight,
      pending,
      players: this.#players.size,
      groups: this.#groups.size,
    };
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  #assertOpen(): void {
    if (this.#closed) throw new MpaClosedError();
  }

  #claim(xuid: string, group: MatchGroup): void {
    const player = this.#players.get(xuid);
    if (player?.group && player.group !== group) player.group.moveOut(xuid);
    this.#leftovers.delete(xuid);
    if (player) player.group = group;
    else this.#players.set(xuid, this.#spawn(xuid, group));
  }

  #spawn(xuid: string, group: MatchGroup): Player {
    const actor = createActor(this.#machine, { input: { xuid } });
    const player: Player = { actor, group, groupId: group.groupId, state: 'idle' };
    actor.subscribe((snapshot) => {
      const state = snapshot.value as PlayerStateName;
      if (state === player.state) return;
      const previous = player.state;
      player.state = state;
      this.emit('state', { xuid, groupId: player.groupId, state, previous });
      if (state === 'idle' && !player.group?.has(xuid)) this.#retire(xuid, player);
      this.#wake();
    });
    actor.start();
    return player;
  }

  #retire(xuid: string, player: Player): void {
    if (this.#players.get(xuid) !== player) return;
    // A DELETE refused for good leaves the activity on the service: close() reports it.
    const { mayHold, superseded } = player.actor.getSnapshot().context;
    if (mayHold && !superseded) this.#leftovers.set(xuid, player.groupId);
    player.group = undefined;
    this.#players.delete(xuid);
    this.#scheduler.forget(xuid);
    player.actor.stop();
  }

  #desire(xuid: string, desired: Desired): void {
    const player = this.#players.get(xuid);
    if (!player) return;
    if (desired.method === 'DELETE' && player.group?.groupId === desired.groupId) player.group = undefined;
    player.groupId = desired.groupId;
    player.actor.send({ type: 'DESIRE', desired });
    // A leave that needed no request leaves the machine idle without a transition.
    if (player.state === 'idle' && player.actor.getSnapshot().value === 'idle' && !player.group) this.#retire(xuid, player);
    this.#wake();
  }

  #isSettled(xuid: string): boolean {
    const state = this.#players.get(xuid)?.state;
    return state === undefined || state === 'idle' || state === 'active';
  }

  #until(done: () => boolean): Promise<void> {
    if (done() || this.#players.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!done() && this.#players.size > 0) return;
        this.#waiters.delete(check);
        resolve();
      };
      this.#waiters.add(check);
    });
  }

  #wake(): void {
    for (const check of [...this.#waiters]) check();
  }

  async #send(xuid: string, desired: Desired, lease: Lease, attempt: number, signal: AbortSignal): Promise<void> {
    const started = this.#now();
    const base = { xuid, groupId: desired.groupId, attempt, reason: desired.reason, sequenceNumber: desired.sequenceNumber.toString() };
    this.#stats.inFlight++;
    try {
      await this.#scheduler.run(lease, signal, () =>
        desired.method === 'PUT'
          ? this.#client.setActivity(xuid, { ...desired.activity, sequenceNumber: desired.sequenceNumber }, { signal })
          : this.#client.deleteActivity(xuid, { sequenceNumber: desired.sequenceNumber }, { signal }),
      );
      this.#record(desired.method, 204);
      this.emit('request', { ...base, method: desired.method, status: 204, latencyMs: this.#now() - started });
    } catch (error) {
      const status = error instanceof MpaError ? (error.status ?? 0) : 0;
      this.#record(desired.method, status);
      this.emit('request', { ...base, method: desired.method, status, latencyMs: this.#now() - started, error: error instanceof MpaError ? error.code : 'TRANSPORT' });
      // After an ambiguous failure a "stale sequence" answer may mean our own earlier attempt
      // landed: read the activity back to tell ours from another writer's.
      if (attempt > 0 && classifyFailure(error) === 'superseded' && (await this.#landed(xuid, desired, base, signal))) return;
      throw error;
    } finally {
      this.#stats.inFlight--;
    }
  }

  async #landed(xuid: string, desired: Desired, base: { xuid: string; groupId: string; attempt: number; sequenceNumber: string }, signal: AbortSignal): Promise<boolean> {
    const started = this.#now();
    try {
      const activity = await this.#client.getActivity(xuid, { signal });
      this.#record('GET', activity ? 200 : 204);
      this.emit('request', { ...base, method: 'GET', status: activity ? 200 : 204, latencyMs: this.#now() - started, reason: 'verify' });
      return desired.method === 'DELETE' ? activity === null : activity?.sequenceNumber === desired.sequenceNumber;
    } catch (error) {
      this.#record('GET', error instanceof MpaError ? (error.status ?? 0) : 0);
      return false;
    }
  }

  #record(method: string, status: number): void {
    const byStatus = (this.#stats.requests[method] ??= {});
    byStatus[status] = (byStatus[status] ?? 0) + 1;
  }

  #retryDelay(xuid: string, desired: Desired, error: unknown, attempt: number): number {
    return this.#delayAfter({ xuid, groupId: desired.groupId, method: desired.method }, 'write', error, attempt);
  }

  /** The wait before attempt `attempt + 1`; a Retry-After also holds the budget it names. */
  #delayAfter(base: { xuid: string; groupId: string; method: 'PUT' | 'DELETE' | 'POST' }, category: RateCategory, error: unknown, attempt: number): number {
    let delayMs: number;
    if (error instanceof MpaThrottledError && error.retryAfterMs !== undefined) {
      delayMs = retryAfterDelay(error.retryAfterMs, this.#options.retryAfterJitterMs, this.#random);
      const scope = throttleScope(error.throttle, this.#budgets);
      this.#scheduler.block(scope === 'user' ? base.xuid : undefined, this.#now() + delayMs, category);
      this.#stats.throttled++;
      this.emit('throttled', { ...base, retryAfterMs: error.retryAfterMs, scope });
    } else {
      delayMs = fullJitterDelay(attempt, this.#options.backoff, this.#random);
      if (error instanceof MpaThrottledError) this.#stats.throttled++;
    }
    this.#stats.retries++;
    this.emit('retry', { ...base, attempt: attempt + 1, delayMs, cause: error instanceof MpaError ? error.code : 'UNKNOWN' });
    return delayMs;
  }

  /**
   * One call outside the player machines (an invite, a recent-players report): within the
   * budget of `key`, retried on Retry-After and retryable failures up to `maxAttempts`.
   */
  async #callWithRetries(
    base: { xuid: string; groupId: string },
    category: RateCategory,
    reason: 'invite' | 'recentPlayers',
    call: (signal: AbortSignal) => Promise<void>,
  ): Promise<MpaError | undefined> {
    const signal = this.#shutdown.signal;
    for (let attempt = 0; ; attempt++) {
      const started = this.#now();
      try {
        const lease = await this.#scheduler.acquire(base.xuid, PRIORITY.settings, signal, category);
        await this.#scheduler.run(lease, signal, () => call(signal));
        this.#record('POST', 204);
        this.emit('request', { ...base, method: 'POST', status: 204, latencyMs: this.#now() - started, attempt, reason, sequenceNumber: '' });
        return undefined;
      } catch (caught) {
        const error = caught instanceof MpaError ? caught : new MpaTransportError('aborted', 'stopped by close()', { cause: caught });
        this.#record('POST', error.status ?? 0);
        this.emit('request', { ...base, method: 'POST', status: error.status ?? 0, latencyMs: this.#now() - started, attempt, reason, sequenceNumber: '', error: error.code });
        const kind = classifyFailure(error);
        if (kind === 'permanent' || kind === 'superseded' || signal.aborted || attempt + 1 >= this.#options.maxAttempts) return error;
        const delay = this.#delayAfter({ ...base, method: 'POST' }, category, error, attempt);
        try {
          await sleep(delay, signal);
        } catch {
          return error;
        }
      }
    }
  }

  async #invite(group: MatchGroup, sender: string, xuids: readonly string[]): Promise<InviteResult> {
    const result: InviteResult = { sent: [], refused: [] };
    const { connectionString, platform } = group.settings;
    for (let i = 0; i < xuids.length; i += LIMITS.invitedUsersMax) {
      const chunk = xuids.slice(i, i + LIMITS.invitedUsersMax);
      const error = await this.#callWithRetries({ xuid: sender, groupId: group.groupId }, 'invite', 'invite', (signal) =>
        this.#client.sendServerInvite({ sender, invitedUsers: chunk, connectionString, ...(platform !== undefined && { platform }) }, { signal }),
      );
      if (error) result.refused.push(...chunk.map((xuid) => ({ xuid, error })));
      else result.sent.push(...chunk);
    }
    return result;
  }

  async #reportRecentPlayers(group: MatchGroup, groups: RecentPlayerGroupInput[]): Promise<RecentPlayersResult> {
    const result: RecentPlayersResult = { reported: 0, refused: [] };
    for (let i = 0; i < groups.length; i += LIMITS.recentPlayerGroupsMax) {
      const chunk = groups.slice(i, i + LIMITS.recentPlayerGroupsMax);
      // The budget is the caller's (this server's), not any one player's.
      const error = await this.#callWithRetries({ xuid: 'server', groupId: group.groupId }, 'recentPlayers', 'recentPlayers', (signal) =>
        this.#client.reportRecentPlayerGroups(chunk, { signal }),
      );
      if (error) result.refused.push(...chunk.map((g) => ({ players: g.recentPlayers.map((p) => String(p.id)), error })));
      else result.reported += chunk.length;
    }
    return result;
  }

  #settled(xuid: string, desired: Desired, outcome: 'ok' | FailureKind, error?: unknown): void {
    const base = { xuid, groupId: desired.groupId, method: desired.method };
    if (outcome === 'ok') this.emit('synced', { ...base, sequenceNumber: desired.sequenceNumber.toString() });
    else if (outcome === 'superseded') this.#stats.superseded++;
    else if (outcome === 'permanent') {
      this.#stats.failed++;
      if (error instanceof MpaError) this.emit('error', { ...base, error });
    } else if (error instanceof MpaError && error.code === 'AUTHORIZATION') this.emit('error', { ...base, error });
  }
}

/**
 * Whether a throttle applies to one user or to every caller. The ThrottledEntity does not say
 * so directly: a limit that matches a documented per-user window (or no body at all) is taken
 * as per user; a concurrency limit or any other window is taken as applying to everyone.
 */
export function throttleScope(throttle: ThrottledEntity | undefined, budgets: RateLimitConfig | false): 'user' | 'all' {
  if (!throttle) return 'user';
  if (/concurrency/i.test(throttle.limitType ?? '')) return 'all';
  const { maxRequests, periodInSeconds } = throttle;
  if (maxRequests === undefined || periodInSeconds === undefined) return 'user';
  const limits = budgets || DOCUMENTED_RATE_LIMITS;
  const perUser = (['write', 'read', 'invite', 'recentPlayers'] as const).flatMap((c) => [
    [limits[c].burst, limits.burstWindowMs / 1000],
    [limits[c].sustain, limits.sustainWindowMs / 1000],
  ]);
  return perUser.some(([max, period]) => max === maxRequests && period === periodInSeconds) ? 'user' : 'all';
}
