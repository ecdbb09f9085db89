/**
 * ActivitySync: the registry of players and groups, the scheduler (budgets and one p-queue)
 * and the events. Groups compute each member's desired state; the engine hands the one a
 * player should show to that player's session (player-session.ts), whose chart decides what to
 * send and when. Data flows one way: group -> desired state -> player session -> queue ->
 * client; sessions and the scheduler report back only as events.
 */
import { setMaxListeners } from 'node:events';
import { debuglog } from 'node:util';
import { EventEmitter } from 'eventemitter3';
import { z } from 'zod';
import type { MpaClient } from '../client.js';
import { MpaError, MpaTransportError, MpaUsageError, MpaClosedError, MpaThrottledError, MpaValidationError } from '../errors.js';
import type { RandomSource } from '../random.js';
import { resolveRateLimits, type RateCategory, type RateLimitConfig, type RateLimitOverride } from '../rate-limits.js';
import { functionSchema, LIMITS, msSchema, parseInput, unlessUnknownKey, type RecentPlayerGroupInput } from '../schemas.js';
import { SequenceStamper, xboxSequenceNumber, type SequenceSource } from '../sequence.js';
import { sleep } from '../sleep.js';
import { ChartStepper } from './chart-step.js';
import { resolveClock, type ClockInput, type EngineClock } from './clock.js';
import type { ActivityContent, SendReason } from './desired.js';
import type { InviteResult, PlayerStateName, RecentPlayersResult, SyncEvents, SyncStats } from './events.js';
import { DueQueue } from './due-queue.js';
import { MatchGroup, type GroupOptions, type GroupSink } from './group.js';
import { OutageTracker } from './outage.js';
import { createPlayerMachine, type ChartDeps, type PlayerEmitted, type PlayerMachine } from './player-chart.js';
import { PlayerSession, type SessionReport } from './player-session.js';
import { retryPolicy, type FailedCall, type RetryDecision, type RetrySettings } from './retry-policy.js';
import { Scheduler } from './scheduler.js';

/** `NODE_DEBUG=mpa-sync` prints what the engine does, one line per request, retry, outage and state change. */
const debug = debuglog('mpa-sync');

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

const CLIENT_METHODS = ['setActivity', 'deleteActivity', 'getActivity', 'sendServerInvite', 'reportRecentPlayerGroups'] as const;

const optionsSchema = z.strictObject(
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

const msOption = z.strictObject({ timeoutMs: msSchema('timeoutMs').optional() }, { error: unlessUnknownKey('options must be an object') });

/** A player: their session, and the groups that hold them, in the order they joined. */
interface Player {
  readonly session: PlayerSession;
  /** Each group's desired activity for the player; the last entry is the one they show. */
  readonly groups: Map<string, ActivityContent>;
  /** Group of the newest desired state, for events after the player left. */
  groupId: string;
  /** Bumped each time the player starts or stops resting: stale keep-alive entries are ignored. */
  restGen: number;
}

/** Internals a test may replace: the chart, built on the engine's clock. */
export interface SyncInternals {
  machine?: (deps: ChartDeps) => PlayerMachine;
}

/** Retirements this close together share one sweep of the budget logs. */
const SWEEP_EVERY_MS = 1000;
/** Preallocated: `abort()` without a reason builds a DOMException each time. */
const CLOSED_REASON = new MpaTransportError('aborted', 'stopped by close()');

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
  readonly #clock: EngineClock;
  readonly #random: RandomSource;
  readonly #stamper: SequenceStamper;
  readonly #scheduler: Scheduler;
  readonly #stepper: ChartStepper<PlayerMachine, PlayerEmitted>;
  readonly #options: z.output<typeof optionsSchema>;
  readonly #policy: RetrySettings;
  readonly #outage: OutageTracker;
  readonly #players = new Map<string, Player>();
  readonly #groups = new Map<string, MatchGroup>();
  readonly #waiters = new Set<() => void>();
  /** Players who are gone but whose activity may still be on the service (a DELETE refused for good). */
  readonly #leftovers = new Map<string, string>();
  readonly #stats = { requests: {} as Record<string, Record<string, number>>, coalesced: 0, throttled: 0, retries: 0, superseded: 0, failed: 0 };
  /** Players updating or leaving: flush waits for this to reach 0 (a count, not a scan). */
  #unsettled = 0;
  #flushing = 0;
  readonly #warned = new Set<string>();
  /** Keep-alives of resting players, in the order they last wrote (`keepAliveMs` is the same for all). */
  readonly #keepAlive: DueQueue<{ xuid: string; gen: number }>;
  /** Sweeps of the budget logs, once the windows of retired players have passed. */
  readonly #sweeps: DueQueue<true>;
  #lastSweepAt = Number.NEGATIVE_INFINITY;
  #gen = 0;
  readonly #sink: GroupSink;
  readonly #sessionDeps: ConstructorParameters<typeof PlayerSession>[3];
  /** Aborted by close(): stops requests, invites and reports still under way. */
  readonly #shutdown = new AbortController();
  #closed = false;
  /** The one close under way or done: every close() resolves with its result. */
  #closing: Promise<CloseResult> | undefined;
  /** Who was unsettled when close() ended: what a flush that close ended resolves with. */
  #unsettledAtClose: FlushResult['unsettled'] | undefined;
  /** Listeners as registered, by event, mapped to the wrappers that catch what they throw. */
  readonly #wrappers = new Map<string | symbol, WeakMap<(...args: never[]) => void, (...args: unknown[]) => void>>();

  constructor(options: ActivitySyncOptions, internals: SyncInternals = {}) {
    super();
    const budgetsOff = typeof options === 'object' && options !== null && options.budgets === false;
    this.#options = parseInput(optionsSchema, budgetsOff ? { ...options, budgets: undefined } : options, 'ActivitySync options');
    this.#client = options.client;
    this.#clock = resolveClock(options.clock, options.now);
    this.#random = options.random ?? Math.random;
    this.#stamper = new SequenceStamper(options.sequence ?? xboxSequenceNumber, this.#clock.wall);
    const budgets: RateLimitConfig | false = budgetsOff ? false : resolveRateLimits(this.#options.budgets);
    this.#policy = { backoff: this.#options.backoff, retryAfterJitterMs: this.#options.retryAfterJitterMs, maxAttempts: this.#options.maxAttempts, budgets };
    this.#outage = new OutageTracker(this.#options.errorAfterFailures, this.#clock.monotonic);
    this.#scheduler = new Scheduler({
      limits: budgets,
      marginMs: this.#options.budgetMarginMs,
      concurrency: this.#options.concurrency,
      rateCap: this.#options.rateCap,
      now: this.#clock.monotonic,
    });
    const deps: ChartDeps = { now: this.#clock.monotonic };
    const machine = internals.machine ? internals.machine(deps) : createPlayerMachine(deps);
    this.#stepper = new ChartStepper(machine, { xuid: '', groupId: '', countRefreshIntervalMs: this.#options.countRefreshIntervalMs });
    this.#keepAlive = new DueQueue(this.#clock, ({ xuid, gen }) => {
      const player = this.#players.get(xuid);
      if (player && player.restGen === gen && player.session.state === 'active') player.session.send({ type: 'KEEPALIVE' });
    });
    this.#sweeps = new DueQueue(this.#clock, () => {
      this.#scheduler.expire();
      this.#stamper.expire();
    });
    // Every request in flight listens to the one shutdown signal (no AbortController per request).
    setMaxListeners(0, this.#shutdown.signal);
    this.#sessionDeps = {
      stepper: this.#stepper,
      clock: this.#clock,
      scheduler: this.#scheduler,
      client: this.#client,
      stamper: this.#stamper,
      signal: this.#shutdown.signal,
      decide: (failed) => this.#decide(failed),
      report: (session, report) => this.#onReport(session, report),
      flushing: () => this.#flushing > 0,
      internalFailure: (error) => this.#internalFailure(error),
    };
    const clock = this.#clock;
    this.#sink = {
      desire: (xuid, groupId, activity, reason) => this.#desire(xuid, groupId, activity, reason),
      release: (group) => void (this.#groups.get(group.groupId) === group && this.#groups.delete(group.groupId)),
      settled: (xuids) => this.#until(() => xuids.every((x) => this.#players.get(x)?.session.hasTag('settled') ?? true)),
      assertOpen: () => this.#assertOpen(),
      invite: (groupId, settings, sender, xuids) => this.#invite(groupId, settings, sender, xuids),
      reportRecentPlayers: (groupId, groups) => this.#reportRecentPlayers(groupId, groups),
      wallNow: () => clock.wall(),
      every: (everyMs, callback) => {
        let handle: unknown;
        const tick = () => {
          handle = clock.setTimeout(tick, everyMs);
          callback();
        };
        handle = clock.setTimeout(tick, everyMs);
        return () => clock.clearTimeout(handle);
      },
      onError: (error, groupId) => {
        this.emit('error', { groupId, error });
      },
    };
  }

  // ---- listeners: each runs in its own try/catch ---------------------------------------

  /**
   * Registers a listener wrapped in a try/catch: a listener that throws never crashes the
   * process and never changes what is sent. It is reported once: as a `listenerError` event if
   * anyone listens to it, else as one process warning per event name.
   */
  override on<T extends EventEmitter.EventNames<SyncEvents>>(event: T, fn: EventEmitter.EventListener<SyncEvents, T>, context?: unknown): this {
    return super.on(event, this.#wrap(event, fn as never) as never, context);
  }

  override addListener<T extends EventEmitter.EventNames<SyncEvents>>(event: T, fn: EventEmitter.EventListener<SyncEvents, T>, context?: unknown): this {
    return this.on(event, fn, context);
  }

  override once<T extends EventEmitter.EventNames<SyncEvents>>(event: T, fn: EventEmitter.EventListener<SyncEvents, T>, context?: unknown): this {
    return super.once(event, this.#wrap(event, fn as never) as never, context);
  }

  override off<T extends EventEmitter.EventNames<SyncEvents>>(event: T, fn?: EventEmitter.EventListener<SyncEvents, T>, context?: unknown, once?: boolean): this {
    const wrapped = fn && this.#wrappers.get(event)?.get(fn as never);
    return super.off(event, (wrapped ?? fn) as never, context, once);
  }

  override removeListener<T extends EventEmitter.EventNames<SyncEvents>>(event: T, fn?: EventEmitter.EventListener<SyncEvents, T>, context?: unknown, once?: boolean): this {
    return this.off(event, fn, context, once);
  }

  #wrap(event: keyof SyncEvents, fn: (...args: never[]) => void): (...args: unknown[]) => void {
    let byFn = this.#wrappers.get(event);
    if (!byFn) this.#wrappers.set(event, (byFn = new WeakMap()));
    let wrapped = byFn.get(fn);
    if (!wrapped) {
      const failed = (error: unknown) => this.#listenerFailed(event, error);
      wrapped = function (this: unknown, ...args: unknown[]) {
        try {
          (fn as (...a: unknown[]) => void).apply(this, args);
        } catch (error) {
          failed(error);
        }
      };
      byFn.set(fn, wrapped);
    }
    return wrapped;
  }

  // ---- public API -------------------------------------------------------------------------

  /**
   * Creates a group (a match, room or server instance). Its `groupId` must be unique among open
   * groups; throws {@link MpaUsageError} otherwise, {@link MpaValidationError} for bad settings.
   */
  group(options: GroupOptions): MatchGroup {
    this.#assertOpen();
    const group = new MatchGroup(options, this.#sink);
    if (this.#groups.has(group.groupId)) {
      group.leaveAll();
      throw new MpaUsageError(`group ${group.groupId} already exists; use getGroup() or close it first`);
    }
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

  /** The top-level state of a player's chart (`undefined`: not tracked, i.e. gone). */
  playerState(xuid: string): PlayerStateName | undefined {
    return this.#players.get(xuid)?.session.state;
  }

  /**
   * Sends every paced count change now (within budgets) and resolves when the service holds
   * every desired state (or a change was refused for good, or superseded). While the service
   * is unreachable the engine keeps retrying with backoff, so this waits: pass `timeoutMs` to
   * resolve no later than that, with the players still unsettled. A flush that `close()` ends
   * resolves with the players that were still unsettled then.
   */
  flush(options: { timeoutMs?: number } = {}): Promise<FlushResult> {
    const { timeoutMs } = parseInput(msOption, options, 'flush options');
    this.#flushing++;
    for (const player of [...this.#players.values()]) if (player.session.hasTag('paced')) player.session.send({ type: 'FLUSH' });
    const done = this.#until(() => this.#unsettled === 0);
    return this.#bounded(done, timeoutMs).then((finished) => {
      this.#flushing--;
      return { unsettled: this.#unsettledAtClose ?? (finished ? [] : this.#unsettledPlayers()) };
    });
  }

  /**
   * Every player leaves; DELETEs go out as budgets and Retry-After allow, until `timeoutMs`
   * (default 10 000). Resolves with every player whose activity may still be on the service.
   * Every call resolves with the result of the first; later calls of other methods throw
   * {@link MpaClosedError}. Everything the engine kept per player is released.
   */
  close(options: { timeoutMs?: number } = {}): Promise<CloseResult> {
    let timeoutMs: number;
    try {
      timeoutMs = parseInput(msOption, options, 'close options').timeoutMs ?? 10_000;
    } catch (error) {
      return Promise.reject(error);
    }
    this.#closing ??= this.#close(timeoutMs);
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<CloseResult> {
    // Closing a group leaves everyone and sends its recent-players report, if it has one.
    const closing = [...this.#groups.values()].map((group) => group.close().catch(() => undefined));
    this.#groups.clear();
    this.#closed = true;
    this.#flushing++;
    for (const player of [...this.#players.values()]) if (player.session.hasTag('paced')) player.session.send({ type: 'FLUSH' });
    await this.#bounded(Promise.all([this.#until(() => this.#players.size === 0), ...closing]), timeoutMs);
    this.#flushing--;
    const undeleted: CloseResult['undeleted'] = [...this.#leftovers].map(([xuid, groupId]) => ({ xuid, groupId }));
    for (const player of this.#players.values()) {
      const c = player.session.context;
      // Never fewer: anything we wrote or may be writing right now counts.
      if ((c.mayHold || player.session.inFlight) && !c.superseded) undeleted.push({ xuid: player.session.xuid, groupId: player.groupId });
      player.session.stop();
    }
    this.#unsettledAtClose = this.#unsettledPlayers();
    // Nothing per player outlives close(): sessions, budget logs, sequence numbers, keep-alives.
    this.#keepAlive.stop();
    this.#sweeps.stop();
    this.#players.clear();
    this.#leftovers.clear();
    this.#scheduler.clear();
    this.#stamper.clear();
    this.#unsettled = 0;
    if (!this.#shutdown.signal.aborted) this.#shutdown.abort(CLOSED_REASON);
    this.#wake();
    return { undeleted };
  }

  /** Counters since construction, plus what is under way now. */
  stats(): SyncStats {
    return {
      requests: structuredClone(this.#stats.requests),
      coalesced: this.#stats.coalesced,
      throttled: this.#stats.throttled,
      retries: this.#stats.retries,
      superseded: this.#stats.superseded,
      failed: this.#stats.failed,
      inFlight: [...this.#players.values()].filter((p) => p.session.inFlight).length,
      pending: this.#unsettled,
      players: this.#players.size,
      groups: this.#groups.size,
      retained: { players: this.#players.size + this.#leftovers.size, sequences: this.#stamper.size, budgets: this.#scheduler.retained },
    };
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  #assertOpen(): void {
    if (this.#closed) throw new MpaClosedError();
  }

  // ---- routing: groups -> sessions --------------------------------------------------------

  /**
   * A group's desired activity for `xuid` changed (null: they left it). The player shows the
   * group they joined most recently among those that hold them; a change in another group is
   * kept for when it is shown again.
   */
  #desire(xuid: string, groupId: string, activity: ActivityContent | null, reason: SendReason): void {
    // A wrong `now` or `sequence` option is refused here, at the join or change that needs it,
    // rather than when the write leaves.
    const at = this.#clock.wall();
    this.#stamper.numberAt(at);
    let player = this.#players.get(xuid);
    if (!player) {
      if (activity === null) return;
      player = this.#spawn(xuid, groupId);
    }
    const { groups, session } = player;
    const before = lastEntry(groups);
    if (activity === null) groups.delete(groupId);
    else {
      // A join moves the group to the end: the one shown.
      if (reason === 'join') groups.delete(groupId);
      groups.set(groupId, activity);
    }
    const after = lastEntry(groups);
    if (after !== undefined && before !== undefined && after[0] === before[0] && after[1] === before[1]) return;
    this.#leftovers.delete(xuid);
    // A change replacing one that was still waiting: counted as coalesced.
    // (A leave before anything was sent is counted once, when the player is gone.)
    if ((session.state === 'updating' || session.state === 'leaving') && !session.inFlight && (after !== undefined || session.sent)) this.#stats.coalesced++;
    if (after === undefined) {
      player.groupId = groupId;
      session.send({ type: 'DESIRE', groupId, activity: null, reason: 'leave', at });
    } else {
      player.groupId = after[0];
      const shownReason: SendReason = after[0] !== groupId ? 'settings' : reason;
      session.send({ type: 'DESIRE', groupId: after[0], activity: after[1], reason: shownReason, at });
    }
  }

  #spawn(xuid: string, groupId: string): Player {
    const player: Player = {
      session: new PlayerSession(xuid, groupId, this.#options.countRefreshIntervalMs, this.#sessionDeps),
      groups: new Map(),
      groupId,
      restGen: 0,
    };
    this.#players.set(xuid, player);
    return player;
  }

  // ---- what sessions report --------------------------------------------------------------

  #onReport(session: PlayerSession, report: SessionReport): void {
    const player = this.#players.get(session.xuid);
    if (player?.session !== session) return;
    switch (report.kind) {
      case 'state':
        return this.#onState(player, report.state, report.previous);
      case 'request':
        return this.#onRequest(player, report);
      case 'failed':
        return this.#onFailed(player, report);
      case 'succeeded': {
        const recovered = this.#outage.succeeded();
        if (recovered) {
          debug('recovered after %d failed requests in %d ms', recovered.failures, recovered.durationMs);
          this.emit('recovered', recovered);
        }
        return;
      }
      case 'synced':
        if (this.listenerCount('synced') > 0) {
          const e = report.event;
          this.emit('synced', { xuid: session.xuid, groupId: e.groupId, method: e.method, sequenceNumber: e.sequenceNumber.toString(), stalenessMs: Math.round(e.stalenessMs) });
        }
        return;
      case 'superseded':
        this.#stats.superseded++;
        debug('%s %s superseded: a newer writer owns the activity', report.method, session.xuid);
        this.emit('superseded', { xuid: session.xuid, groupId: report.groupId, method: report.method });
        return;
    }
  }

  #onState(player: Player, state: PlayerStateName, previous: PlayerStateName): void {
    const settledBefore = previous === 'idle' || previous === 'active';
    const settledNow = state === 'idle' || state === 'active' || state === 'gone';
    if (settledBefore && !settledNow) this.#unsettled++;
    else if (!settledBefore && previous !== 'gone' && settledNow) this.#unsettled--;
    player.restGen = ++this.#gen;
    debug('%s %s -> %s', player.session.xuid, previous, state);
    if (this.listenerCount('state') > 0) this.emit('state', { xuid: player.session.xuid, groupId: player.groupId, state, previous });
    if (state === 'gone') this.#retire(player);
    else if (state === 'active') {
      // Entries of players who moved on are skipped when due; when they outnumber the players
      // by far (churn), drop them now rather than an hour later.
      if (this.#keepAlive.size > 2 * this.#players.size + 1024) this.#keepAlive.compact((e) => this.#players.get(e.xuid)?.restGen === e.gen);
      this.#keepAlive.push({ xuid: player.session.xuid, gen: player.restGen }, this.#clock.monotonic() + this.#options.keepAliveMs);
    }
    if (settledNow) this.#wake();
  }

  #retire(player: Player): void {
    const { session } = player;
    const c = session.context;
    // A DELETE refused for good leaves the activity on the service: close() reports it.
    if (c.mayHold && !c.superseded) this.#leftovers.set(session.xuid, player.groupId);
    if (!session.sent) this.#stats.coalesced++;
    this.#players.delete(session.xuid);
    session.stop();
    this.#stamper.release(session.xuid);
    this.#scheduler.forget(session.xuid);
    // Their budget log is forgotten once its windows have passed, even if no request follows.
    const now = this.#clock.monotonic();
    if (now >= this.#lastSweepAt + SWEEP_EVERY_MS) {
      this.#lastSweepAt = now;
      this.#sweeps.push(true, now + this.#scheduler.retentionMs + SWEEP_EVERY_MS);
    }
  }

  #onRequest(player: Player, r: Extract<SessionReport, { kind: 'request' }>): void {
    this.#record(r.method, r.status);
    const latencyMs = Math.round(this.#clock.monotonic() - r.startedAt);
    debug('%s %s %d %s %dms%s', r.method, player.session.xuid, r.status, r.reason, latencyMs, r.error ? ` ${r.error.code}: ${r.error.message}` : '');
    if (this.listenerCount('request') === 0) return;
    this.emit('request', {
      xuid: player.session.xuid,
      groupId: r.groupId,
      method: r.method,
      status: r.status,
      latencyMs,
      attempt: r.attempt,
      reason: r.reason,
      joinability: r.joinability,
      sequenceNumber: r.sequenceNumber.toString(),
      ...(r.error !== undefined && { error: r.error.code }),
    });
  }

  #onFailed(player: Player, r: Extract<SessionReport, { kind: 'failed' }>): void {
    this.#applyDecision({ xuid: player.session.xuid, groupId: r.groupId, method: r.method }, 'write', r.error, r.decision, r.attempt);
  }

  /** The retry policy, with the engine's settings, one random draw and the outage so far. */
  #decide(failed: FailedCall): RetryDecision {
    return retryPolicy({ ...failed, outageFailures: this.#outage.failures + 1 }, this.#policy, this.#random());
  }

  /** Applies a decision's side effects: budget holds, counters, events, the outage. */
  #applyDecision(base: { xuid: string; groupId: string; method: 'PUT' | 'DELETE' | 'POST' }, category: RateCategory, error: MpaError, decision: RetryDecision, attempt: number): void {
    const outage = this.#outage.failed(error);
    if (outage) {
      debug('outage: %d failed requests, the last %s: %s', outage.failures, error.code, error.message);
      this.emit('error', { ...base, error, failures: outage.failures });
    }
    if (decision.kind === 'retry') {
      const until = this.#clock.monotonic() + decision.delayMs;
      if (decision.retryAfterMs !== undefined) {
        this.#scheduler.block(decision.scope === 'user' ? base.xuid : undefined, until, category);
        this.#stats.throttled++;
        this.emit('throttled', { ...base, retryAfterMs: decision.retryAfterMs, scope: decision.scope });
      } else if (decision.scope === 'all') this.#scheduler.block(undefined, until, category);
      else if (error instanceof MpaThrottledError) this.#stats.throttled++;
      this.#stats.retries++;
      debug('%s %s retry %d in %d ms: %s %s', base.method, base.xuid, attempt + 1, decision.delayMs, error.code, error.message);
      this.emit('retry', { ...base, attempt: attempt + 1, delayMs: decision.delayMs, cause: error.code, message: error.message });
    } else if (decision.kind === 'give-up' && category === 'write') {
      this.#stats.failed++;
      this.emit('error', { ...base, error });
    }
  }

  #record(method: string, status: number): void {
    const byStatus = (this.#stats.requests[method] ??= {});
    byStatus[status] = (byStatus[status] ?? 0) + 1;
  }

  // ---- invites and recent players -------------------------------------------------------

  /**
   * One call outside the charts (an invite, a recent-players report): within the budget of
   * `key`, retried as the retry policy says (at most `maxAttempts`).
   */
  async #callWithRetries(base: { xuid: string; groupId: string }, category: RateCategory, reason: 'invite' | 'recentPlayers', call: (signal: AbortSignal) => Promise<void>): Promise<MpaError | undefined> {
    const signal = this.#shutdown.signal;
    for (let attempt = 0; ; attempt++) {
      let startedAt = this.#clock.monotonic();
      let failure: unknown;
      let sent = false;
      try {
        for (;;) {
          const lease = this.#scheduler.acquire(base.xuid, 1, category);
          if (typeof lease !== 'number') {
            await this.#scheduler.run(lease, async () => {
              startedAt = this.#clock.monotonic();
              sent = true;
              try {
                signal.throwIfAborted();
                await call(signal);
              } catch (error) {
                failure = error;
              }
              return true;
            });
            break;
          }
          await sleep(lease, signal, this.#clock);
        }
      } catch (error) {
        failure = error;
      }
      const error = failure === undefined ? undefined : failure instanceof MpaError ? failure : new MpaTransportError('aborted', 'stopped by close()', { cause: failure });
      if (sent && !(error instanceof MpaValidationError)) {
        this.#record('POST', error ? (error.status ?? 0) : 204);
        this.emit('request', { ...base, method: 'POST', status: error ? (error.status ?? 0) : 204, latencyMs: Math.round(this.#clock.monotonic() - startedAt), attempt, reason, sequenceNumber: '', ...(error && { error: error.code }) });
      }
      if (!error) return undefined;
      if (signal.aborted) return error;
      const decision = this.#decide({ error, attempt, call: 'post' });
      this.#applyDecision({ ...base, method: 'POST' }, category, error, decision, attempt);
      if (decision.kind !== 'retry') return error;
      try {
        await sleep(decision.delayMs, signal, this.#clock);
      } catch {
        return error;
      }
    }
  }

  async #invite(groupId: string, settings: { connectionString: string; platform?: string | undefined }, sender: string, xuids: readonly string[]): Promise<InviteResult> {
    const result: InviteResult = { sent: [], refused: [] };
    const { connectionString, platform } = settings;
    for (let i = 0; i < xuids.length; i += LIMITS.invitedUsersMax) {
      const chunk = xuids.slice(i, i + LIMITS.invitedUsersMax);
      const error = await this.#callWithRetries({ xuid: sender, groupId }, 'invite', 'invite', (signal) =>
        this.#client.sendServerInvite({ sender, invitedUsers: chunk, connectionString, ...(platform !== undefined && { platform: platform as never }) }, { signal }),
      );
      if (error) result.refused.push(...chunk.map((xuid) => ({ xuid, error })));
      else result.sent.push(...chunk);
    }
    return result;
  }

  async #reportRecentPlayers(groupId: string, groups: RecentPlayerGroupInput[]): Promise<RecentPlayersResult> {
    const result: RecentPlayersResult = { reported: 0, refused: [] };
    for (let i = 0; i < groups.length; i += LIMITS.recentPlayerGroupsMax) {
      const chunk = groups.slice(i, i + LIMITS.recentPlayerGroupsMax);
      // The budget is the caller's (this server's), not any one player's.
      const error = await this.#callWithRetries({ xuid: 'server', groupId }, 'recentPlayers', 'recentPlayers', (signal) => this.#client.reportRecentPlayerGroups(chunk, { signal }));
      if (error) result.refused.push(...chunk.map((g) => ({ players: g.recentPlayers.map((p) => String(p.id)), error })));
      else result.reported += chunk.length;
    }
    return result;
  }

  // ---- waiting ----------------------------------------------------------------------------

  #until(done: () => boolean): Promise<void> {
    if (done() || this.#closedAndEmpty()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!done() && !this.#closedAndEmpty()) return;
        this.#waiters.delete(check);
        resolve();
      };
      this.#waiters.add(check);
    });
  }

  #closedAndEmpty(): boolean {
    return this.#closed && this.#players.size === 0;
  }

  #wake(): void {
    if (this.#waiters.size === 0) return;
    for (const check of [...this.#waiters]) check();
  }

  /**
   * Resolves `true` when `promise` settles, `false` at `timeoutMs`. The process stays alive
   * meanwhile: the caller is awaiting this, even though each timer it waits on (a Retry-After,
   * a backoff, the timeout itself) is one that must not keep an idle game server alive.
   */
  #bounded(promise: Promise<unknown>, timeoutMs: number | undefined): Promise<boolean> {
    const release = this.#clock.hold?.();
    const waited = this.#boundedWait(promise, timeoutMs);
    if (!release) return waited;
    return waited.then(
      (done) => (release(), done),
      (error: unknown) => {
        release();
        throw error;
      },
    );
  }

  #boundedWait(promise: Promise<unknown>, timeoutMs: number | undefined): Promise<boolean> {
    if (timeoutMs === undefined) return promise.then(() => true);
    return new Promise((resolve) => {
      const timer = this.#clock.setTimeout(() => resolve(false), timeoutMs);
      const settled = () => {
        this.#clock.clearTimeout(timer);
        resolve(true);
      };
      promise.then(settled, settled);
    });
  }

  #unsettledPlayers(): FlushResult['unsettled'] {
    const out: FlushResult['unsettled'] = [];
    for (const p of this.#players.values()) if (!p.session.hasTag('settled')) out.push({ xuid: p.session.xuid, groupId: p.groupId, state: p.session.state });
    return out;
  }

  /**
   * A request job that threw: a bug in mpa-sync, never the service's answer (sessions catch
   * those). The game server must outlive it, so it becomes a warning naming the error's type
   * (never its message, which could quote a request), once.
   */
  #internalFailure(error: unknown): void {
    if (this.#warned.has('internal')) return;
    this.#warned.add('internal');
    const name = error instanceof Error ? error.name : typeof error;
    process.emitWarning(`mpa-sync: a request job failed unexpectedly (${name}); the engine went on`, { code: 'MPA_SYNC_INTERNAL_ERROR' });
  }

  #listenerFailed(event: keyof SyncEvents, error: unknown): void {
    if (event !== 'listenerError' && this.listenerCount('listenerError') > 0) {
      this.emit('listenerError', { event, error });
      return;
    }
    if (this.#warned.has(event)) return;
    this.#warned.add(event);
    // Only the error's name: its message is the studio's and may carry anything.
    const name = error instanceof Error ? error.name : typeof error;
    process.emitWarning(`a '${event}' listener threw (${name}); mpa-sync went on. Listen to 'listenerError' for details.`, { code: 'MPA_SYNC_LISTENER_ERROR' });
  }
}

function lastEntry<K, V>(map: Map<K, V>): [K, V] | undefined {
  let last: [K, V] | undefined;
  for (const entry of map) last = entry;
  return last;
}
