/**
 * ActivitySync: the registry and the wiring. Groups compute desired states; the engine routes
 * them to one statechart per player; the charts decide what to send and when; the engine runs
 * the requests through the scheduler's queue and reports the answers back to the charts as
 * events. Data flows one way: group -> desired state -> player chart -> queue -> client.
 */
import { setMaxListeners } from 'node:events';
import { EventEmitter } from 'eventemitter3';
import type { EventObject } from 'xstate';
import { z } from 'zod';
import { putValidatedActivity, type MpaClient } from '../client.js';
import { MpaAuthorizationError, MpaError, MpaThrottledError, MpaTransportError, MpaUsageError, MpaValidationError, MpaClosedError } from '../errors.js';
import type { RandomSource } from '../random.js';
import { resolveRateLimits, type RateCategory, type RateLimitConfig, type RateLimitOverride } from '../rate-limits.js';
import { functionSchema, LIMITS, msSchema, parseInput, unlessUnknownKey, type RecentPlayerGroupInput } from '../schemas.js';
import { SequenceStamper, xboxSequenceNumber, type SequenceSource } from '../sequence.js';
import { sleep } from '../sleep.js';
import { resolveClock, type ClockInput, type EngineClock } from './clock.js';
import { sameContent, type ActivityContent, type SendReason } from './desired.js';
import type { InviteResult, PlayerStateName, RecentPlayersResult, SyncEvents, SyncStats } from './events.js';
import { DueQueue } from './due-queue.js';
import { MatchGroup, type GroupOptions, type GroupSink } from './group.js';
import { ChartRunner, type ChartEffect, type ChartState } from './chart-runner.js';
import { createPlayerMachine, requestFor, type PlayerContext, type PlayerEmitted, type PlayerEvent, type WriteRequest } from './player-machine.js';
import { retryPolicy, type RetryDecision, type RetrySettings } from './retry-policy.js';
import { Scheduler } from './scheduler.js';

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

interface Player {
  readonly xuid: string;
  /**
   * Where the player is in the chart: its state and context (no live actor, no XState
   * snapshot between events: see chart-runner.ts). A retired player keeps its `gone` state.
   */
  chart: ChartState;
  /** The chart is handling an event: events it causes wait in `inbox`, in order (as an actor's mailbox). */
  stepping: boolean;
  inbox: (PlayerEvent | EventObject)[] | undefined;
  /** The pending `after` delay of the chart's state, if any (one state, one delay at most). */
  delay: { id: string; handle: unknown } | undefined;
  /** Bumped each time the player starts resting: stale keep-alive entries are ignored. */
  restGen: number;
  /** The group the player is a member of, if any. */
  group: MatchGroup | undefined;
  /** Group of the newest desired state, for events after the player left. */
  groupId: string;
  state: PlayerStateName;
  /** A request of this player is in flight (it may land even if we stop waiting). */
  inFlight: boolean;
  /** Whether any request was ever sent for this player. */
  sent: boolean;
  /** A change arrived while a request was in flight (the next ones replace it). */
  changeWaiting: boolean;
  /** The chart is in `sending` and its request waits in the queue (see `#hold`). */
  queued: boolean;
  /** Count changes for a queued player, merged, not yet handed to the chart. */
  pending: DesireEvent | undefined;
}

type DesireEvent = Extract<PlayerEvent, { type: 'DESIRE' }>;

/** One entry of eventemitter3's listener registry. */
interface RegisteredListener {
  fn: (...args: unknown[]) => void;
  context: unknown;
  once: boolean;
}

/** Retirements this close together share one sweep of the budget logs. */
const SWEEP_EVERY_MS = 1000;
const SETTLED: Record<PlayerStateName, boolean> = { idle: true, active: true, gone: true, updating: false, leaving: false };
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
  readonly #chart: ChartRunner;
  readonly #options: z.output<typeof optionsSchema>;
  readonly #policy: RetrySettings;
  readonly #players = new Map<string, Player>();
  readonly #groups = new Map<string, MatchGroup>();
  /** Players resting in `updating.pacing`: a flush sends them at once. */
  readonly #paced = new Set<Player>();
  readonly #waiters = new Set<() => void>();
  /** Players who are gone but whose activity may still be on the service (a DELETE refused for good). */
  readonly #leftovers = new Map<string, string>();
  readonly #stats = { requests: {} as Record<string, Record<string, number>>, coalesced: 0, throttled: 0, retries: 0, superseded: 0, failed: 0, inFlight: 0 };
  /** Players updating or leaving: flush waits for this to reach 0 (a count, not a scan). */
  #unsettled = 0;
  #flushing = 0;
  readonly #warned = new Set<string>();
  /** Keep-alives of resting players, in the order they last wrote (`keepAliveMs` is the same for all). */
  readonly #keepAlive: DueQueue<{ xuid: string; gen: number }>;
  /** Players with a held count change (see `#hold`), delivered at the end of the tick. */
  #holding: Player[] = [];
  /** Sweeps of the budget logs, once the windows of retired players have passed. */
  readonly #sweeps: DueQueue<true>;
  #lastSweepAt = Number.NEGATIVE_INFINITY;
  /** Engine-wide, so that a new Player for the same xuid never matches an old entry. */
  #gen = 0;
  readonly #sink: GroupSink;
  /** Aborted by close(): stops requests, invites and reports still under way. */
  readonly #shutdown = new AbortController();
  #closed = false;

  constructor(options: ActivitySyncOptions) {
    super();
    const budgetsOff = typeof options === 'object' && options !== null && options.budgets === false;
    this.#options = parseInput(optionsSchema, budgetsOff ? { ...options, budgets: undefined } : options, 'ActivitySync options');
    this.#client = options.client;
    this.#clock = resolveClock(options.clock, options.now);
    this.#random = options.random ?? Math.random;
    this.#stamper = new SequenceStamper(options.sequence ?? xboxSequenceNumber, this.#clock.wall);
    const budgets: RateLimitConfig | false = budgetsOff ? false : resolveRateLimits(this.#options.budgets);
    this.#policy = { backoff: this.#options.backoff, retryAfterJitterMs: this.#options.retryAfterJitterMs, maxAttempts: this.#options.maxAttempts, budgets };
    this.#scheduler = new Scheduler({
      limits: budgets,
      marginMs: this.#options.budgetMarginMs,
      concurrency: this.#options.concurrency,
      rateCap: this.#options.rateCap,
      now: this.#clock.monotonic,
    });
    this.#chart = new ChartRunner(createPlayerMachine(), { xuid: '', groupId: '', keepAliveMs: this.#options.keepAliveMs, countRefreshIntervalMs: this.#options.countRefreshIntervalMs });
    this.#keepAlive = new DueQueue(this.#clock, ({ xuid, gen }) => {
      const player = this.#players.get(xuid);
      if (player && player.restGen === gen && player.state === 'active') this.#sendTo(player, { type: 'KEEPALIVE' });
    });
    this.#sweeps = new DueQueue(this.#clock, () => {
      this.#scheduler.expire();
      this.#stamper.expire();
    });
    // Every request in flight listens to the one shutdown signal (no AbortController per request).
    setMaxListeners(0, this.#shutdown.signal);
    const clock = this.#clock;
    this.#sink = {
      desire: (xuid, groupId, activity, reason) => this.#desire(xuid, groupId, activity, reason),
      claim: (xuid, group) => this.#claim(xuid, group),
      release: (group) => void (this.#groups.get(group.groupId) === group && this.#groups.delete(group.groupId)),
      settled: (xuids) => this.#until(() => xuids.every((x) => SETTLED[this.#players.get(x)?.state ?? 'gone'])),
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

  /**
   * Emits to every listener, each in its own try/catch: a listener that throws never crashes
   * the process and never changes what is sent. It is reported once: as a `listenerError`
   * event if anyone listens to it, else as one process warning per event name.
   */
  override emit<T extends EventEmitter.EventNames<SyncEvents>>(event: T, ...args: EventEmitter.EventArgs<SyncEvents, T>): boolean {
    // eventemitter3's own emit, one listener at a time: its registry (pinned version 5) keeps
    // `once` flags and contexts that listeners() does not return.
    const key = EventEmitter.prefixed ? `${String(EventEmitter.prefixed)}${event}` : event;
    const registered = (this as unknown as { _events: Record<string, RegisteredListener | RegisteredListener[] | undefined> })._events[key];
    if (!registered) return false;
    for (const listener of Array.isArray(registered) ? [...registered] : [registered]) {
      if (listener.once) this.removeListener(event, listener.fn as never, undefined, true);
      try {
        listener.fn.apply(listener.context, args);
      } catch (error) {
        this.#listenerFailed(event, error);
      }
    }
    return true;
  }

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
    const player = this.#players.get(xuid);
    if (player?.pending) this.#deliver(player); // a held change first: the state it leads to
    return player?.state;
  }

  /**
   * Sends every paced count change now (within budgets) and resolves when the service holds
   * every desired state (or a change was refused for good). While the service is unreachable
   * the engine keeps retrying with backoff, so this waits: pass `timeoutMs` to resolve no later
   * than that, with the players still unsettled.
   */
  flush(options: { timeoutMs?: number } = {}): Promise<FlushResult> {
    const { timeoutMs } = parseInput(msOption, options, 'flush options');
    this.#flushing++;
    this.#deliverHeld();
    for (const player of [...this.#paced]) this.#sendTo(player, { type: 'FLUSH', now: this.#clock.monotonic() });
    const done = this.#until(() => this.#unsettled === 0);
    return this.#bounded(done, timeoutMs).then((finished) => {
      this.#flushing--;
      return { unsettled: finished ? [] : this.#unsettledPlayers() };
    });
  }

  /**
   * Every player leaves; DELETEs go out as budgets and Retry-After allow, until `timeoutMs`
   * (default 10 000). Resolves with every player whose activity may still be on the service.
   * Later calls of other methods throw {@link MpaClosedError}; calling close again returns the
   * same kind of result.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<CloseResult> {
    const { timeoutMs = 10_000 } = parseInput(msOption, options, 'close options');
    // Closing a group leaves everyone and sends its recent-players report, if it has one.
    const closing = this.#closed ? [] : [...this.#groups.values()].map((group) => group.close().catch(() => undefined));
    this.#groups.clear();
    this.#closed = true;
    this.#flushing++;
    for (const player of [...this.#paced]) this.#sendTo(player, { type: 'FLUSH', now: this.#clock.monotonic() });
    await this.#bounded(Promise.all([this.#until(() => this.#players.size === 0), ...closing]), timeoutMs);
    this.#flushing--;
    const undeleted: CloseResult['undeleted'] = [...this.#leftovers].map(([xuid, groupId]) => ({ xuid, groupId }));
    for (const player of this.#players.values()) {
      const c = this.#contextOf(player);
      // Never fewer: anything we wrote or may be writing right now counts.
      if ((c.mayHold || player.inFlight) && !c.superseded) undeleted.push({ xuid: player.xuid, groupId: player.groupId });
      this.#cancelDelay(player);
    }
    this.#keepAlive.stop();
    this.#sweeps.stop();
    this.#players.clear();
    this.#paced.clear();
    this.#unsettled = 0;
    if (!this.#shutdown.signal.aborted) this.#shutdown.abort(CLOSED_REASON);
    this.#wake();
    return { undeleted };
  }

  /** Counters since construction, plus what is under way now. */
  stats(): SyncStats {
    this.#deliverHeld(); // held changes first: a held join is pending
    return {
      requests: structuredClone(this.#stats.requests),
      coalesced: this.#stats.coalesced,
      throttled: this.#stats.throttled,
      retries: this.#stats.retries,
      superseded: this.#stats.superseded,
      failed: this.#stats.failed,
      inFlight: this.#stats.inFlight,
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

  // ---- routing: groups -> charts -------------------------------------------------------

  #claim(xuid: string, group: MatchGroup): MatchGroup | undefined {
    const player = this.#players.get(xuid) ?? this.#spawn(xuid, group.groupId);
    const previous = player.group;
    player.group = group;
    this.#leftovers.delete(xuid);
    return previous !== group ? previous : undefined;
  }

  #desire(xuid: string, groupId: string, activity: ActivityContent | null, reason: SendReason): void {
    const player = this.#players.get(xuid);
    if (!player) return;
    if (activity === null && player.group?.groupId === groupId) player.group = undefined;
    player.groupId = groupId;
    // A change replacing one that was still waiting: counted as coalesced.
    // (A leave before anything was sent is counted once, when the player is gone.)
    if ((player.state === 'updating' || player.pending) && (activity !== null || player.sent)) {
      if (!player.inFlight || player.changeWaiting) this.#stats.coalesced++;
      else player.changeWaiting = true;
    }
    const sequenceNumber = activity === null ? undefined : this.#stamper.next(xuid);
    const event: DesireEvent = { type: 'DESIRE', now: this.#clock.monotonic(), groupId, activity, sequenceNumber, reason };
    // Held (see #hold): a count change while the write waits in the queue; a join of a resting
    // idle player, and what follows it in the same tick. A leave is never held.
    const queuedCount = player.queued && reason === 'count';
    const idleJoin = player.state === 'idle' && (reason === 'join' || player.pending !== undefined);
    if (activity !== null && (queuedCount || idleJoin)) this.#hold(player, event);
    else this.#sendTo(player, event);
  }

  /**
   * A count change for a player whose request waits in the queue, or a join of a resting
   * `idle` player (and the count changes after it). In `sending` the chart only records a
   * change (it stays; the request reads the newest state when it leaves), so a burst of joins
   * would cost every waiting member one chart step per join, and each joining player one more
   * for the counts of those who join after it in the same tick. The engine holds the change
   * and merges the next ones into it: the chart gets it before any other event, before the
   * request leaves, when the player's state or the stats are read, at `flush()`, or at the end
   * of the tick, whichever is first. The merged event is the last change with the first one's
   * time (and stays a join if the first was one), which the chart reduces exactly as it would
   * the sequence (same desired state, sequence number, reason and `wrongSince`), provided the
   * held change left the published state wrong; otherwise the held one is handed over first.
   */
  #hold(player: Player, event: DesireEvent): void {
    const held = player.pending;
    if (held && (held.groupId !== event.groupId || sameContent(this.#contextOf(player).published, held.activity))) this.#deliver(player);
    // A held join stays a join: the chart reduces join-then-count as one join of the newest content.
    if (player.pending) player.pending = { ...event, now: player.pending.now, reason: player.pending.reason === 'join' ? 'join' : event.reason };
    else {
      player.pending = event;
      if (this.#holding.push(player) === 1) queueMicrotask(() => this.#deliverHeld());
    }
  }

  #deliverHeld(): void {
    const players = this.#holding;
    this.#holding = [];
    for (const player of players) this.#deliver(player);
  }

  /** Hands a held change to the chart (no-op if there is none). */
  #deliver(player: Player): void {
    const event = player.pending;
    if (!event) return;
    player.pending = undefined;
    this.#sendTo(player, event);
  }

  /** A new player rests in the chart's initial state (`idle`) until its first event. */
  #spawn(xuid: string, groupId: string): Player {
    const input = { xuid, groupId, keepAliveMs: this.#options.keepAliveMs, countRefreshIntervalMs: this.#options.countRefreshIntervalMs };
    const player: Player = { xuid, chart: this.#chart.fresh(input), stepping: false, inbox: undefined, delay: undefined, restGen: 0, group: undefined, groupId, state: 'idle', inFlight: false, sent: false, changeWaiting: false, queued: false, pending: undefined };
    this.#players.set(xuid, player);
    return player;
  }

  /**
   * A player starts resting: an active one queues its keep-alive (one timer for all). When the
   * step ends, `#step` keeps only its state and context.
   */
  #hibernate(player: Player, value: 'idle' | 'active'): void {
    const gen = (player.restGen = ++this.#gen);
    if (value === 'active') {
      // Entries of players who moved on are skipped when due; when they outnumber the players
      // by far (churn), drop them now rather than an hour later.
      if (this.#keepAlive.size > 2 * this.#players.size + 1024) this.#keepAlive.compact((e) => this.#players.get(e.xuid)?.restGen === e.gen);
      this.#keepAlive.push({ xuid: player.xuid, gen }, this.#clock.monotonic() + this.#options.keepAliveMs);
    }
  }

  #contextOf(player: Player): PlayerContext {
    return player.chart.context;
  }

  #sendTo(player: Player, event: PlayerEvent): void {
    if (this.#players.get(player.xuid) !== player) return;
    // A held change first: the chart sees every change, in order.
    if (player.pending) this.#deliver(player);
    this.#step(player, event);
  }

  /**
   * One event through the chart, then its effects, in order. An event caused while the chart
   * handles another (the engine answering a `send` at once) waits for that one to finish, as
   * in an actor's mailbox.
   */
  #step(player: Player, event: PlayerEvent | EventObject): void {
    if (player.stepping) {
      (player.inbox ??= []).push(event);
      return;
    }
    player.stepping = true;
    try {
      let next: PlayerEvent | EventObject | undefined = event;
      while (next !== undefined) {
        const state = player.chart;
        if (state.value === 'gone') break;
        const [after, effects] = this.#chart.step(state, next);
        player.chart = after;
        this.#apply(player, effects);
        next = player.inbox?.shift();
      }
    } finally {
      player.stepping = false;
      player.inbox = undefined;
    }
  }

  #apply(player: Player, effects: readonly ChartEffect[]): void {
    for (const effect of effects) {
      if (effect.kind === 'emit') this.#onChart(player, effect.event);
      else if (effect.kind === 'cancel') {
        if (player.delay?.id === effect.id) this.#cancelDelay(player);
      } else {
        this.#cancelDelay(player);
        const delay = { id: effect.id, handle: undefined as unknown };
        delay.handle = this.#clock.setTimeout(() => {
          if (player.delay !== delay) return;
          player.delay = undefined;
          if (this.#players.get(player.xuid) === player) this.#step(player, effect.event);
        }, effect.delayMs);
        player.delay = delay;
      }
    }
  }

  #cancelDelay(player: Player): void {
    if (player.delay === undefined) return;
    this.#clock.clearTimeout(player.delay.handle);
    player.delay = undefined;
  }

  /** What a chart tells the engine. */
  #onChart(player: Player, event: PlayerEmitted): void {
    switch (event.type) {
      case 'state':
        return this.#onState(player, event.state);
      case 'paced':
        if (!event.paced) this.#paced.delete(player);
        else if (this.#flushing > 0) this.#sendTo(player, { type: 'FLUSH', now: this.#clock.monotonic() });
        else this.#paced.add(player);
        return;
      case 'send':
        return this.#send(player, event.priority);
      case 'verify':
        return this.#verify(player);
      case 'synced':
        if (this.listenerCount('synced') > 0) {
          this.emit('synced', { xuid: event.xuid, groupId: event.groupId, method: event.method, sequenceNumber: event.sequenceNumber.toString(), stalenessMs: Math.round(event.stalenessMs) });
        }
        return;
    }
  }

  #onState(player: Player, state: PlayerStateName): void {
    const previous = player.state;
    if (state === previous) return;
    player.state = state;
    if (SETTLED[previous] && !SETTLED[state]) this.#unsettled++;
    else if (!SETTLED[previous] && SETTLED[state]) this.#unsettled--;
    if (state !== 'idle' && state !== 'active') player.restGen = ++this.#gen;
    if (this.listenerCount('state') > 0) this.emit('state', { xuid: player.xuid, groupId: player.groupId, state, previous });
    if (state === 'gone') this.#retire(player);
    else if (state === 'idle' || state === 'active') this.#hibernate(player, state);
    if (SETTLED[state]) this.#wake();
  }

  #retire(player: Player): void {
    if (this.#players.get(player.xuid) !== player) return;
    const c = this.#contextOf(player);
    // A DELETE refused for good leaves the activity on the service: close() reports it.
    if (c.mayHold && !c.superseded) this.#leftovers.set(player.xuid, player.groupId);
    if (!player.sent) this.#stats.coalesced++;
    this.#players.delete(player.xuid);
    this.#paced.delete(player);
    // Queued requests may still hold the Player: let it hold nothing heavy (its chart state,
    // `gone` and a context, stays: a job already queued may still read it).
    player.group = undefined;
    this.#cancelDelay(player);
    this.#stamper.release(player.xuid);
    this.#scheduler.forget(player.xuid);
    // Their budget log is forgotten once its windows have passed, even if no request follows.
    const now = this.#clock.monotonic();
    if (now >= this.#lastSweepAt + SWEEP_EVERY_MS) {
      this.#lastSweepAt = now;
      this.#sweeps.push(true, now + this.#scheduler.retentionMs + SWEEP_EVERY_MS);
    }
  }

  // ---- requests: charts -> queue -> client -> charts ----------------------------------

  #send(player: Player, priority: 0 | 1 | 2): void {
    const lease = this.#scheduler.acquire(player.xuid, priority);
    if (typeof lease === 'number') {
      this.#sendTo(player, { type: 'WAIT', now: this.#clock.monotonic(), ms: lease });
      return;
    }
    player.queued = true;
    this.#scheduler.run(lease, () => this.#write(player)).catch((error: unknown) => this.#internalFailure(error));
  }

  /** Sends the player's newest write, read from the chart when it leaves. Never throws. */
  async #write(player: Player): Promise<boolean> {
    player.queued = false;
    if (this.#players.get(player.xuid) !== player) return false;
    this.#deliver(player);
    const context = this.#contextOf(player);
    const request = requestFor(context);
    if (!request) {
      this.#sendTo(player, { type: 'SKIPPED', now: this.#clock.monotonic() });
      return false;
    }
    const xuid = player.xuid;
    const sequenceNumber = request.method === 'DELETE' ? this.#stamper.deleteNumber(xuid) : (request.sequenceNumber ?? this.#stamper.next(xuid));
    this.#stamper.sent(xuid, sequenceNumber);
    const sent = { ...request, sequenceNumber };
    const startedAt = this.#clock.monotonic();
    const signal = this.#shutdown.signal;
    player.inFlight = true;
    player.sent = true;
    this.#stats.inFlight++;
    try {
      if (sent.method === 'PUT') await putValidatedActivity(this.#client, xuid, { ...sent.activity!, sequenceNumber }, { signal });
      else await this.#client.deleteActivity(xuid, { sequenceNumber }, { signal });
      this.#requestDone(player, sent, 204, startedAt, context.attempt);
      this.#sendTo(player, { type: 'SENT', now: this.#clock.monotonic(), startedAt, request: sent });
    } catch (error) {
      const decision = this.#failed(player, sent, error, startedAt, context.attempt, context.ambiguous);
      this.#sendTo(player, { type: 'FAILED', now: this.#clock.monotonic(), request: sent, decision });
    } finally {
      player.inFlight = false;
      player.changeWaiting = false;
      this.#stats.inFlight--;
    }
    return true;
  }

  #requestDone(player: Player, sent: WriteRequest & { sequenceNumber: bigint }, status: number, startedAt: number, attempt: number, error?: MpaError['code']): void {
    this.#record(sent.method, status);
    if (this.listenerCount('request') === 0) return;
    this.emit('request', {
      xuid: player.xuid,
      groupId: sent.groupId,
      method: sent.method,
      status,
      latencyMs: Math.round(this.#clock.monotonic() - startedAt),
      attempt,
      reason: sent.reason,
      sequenceNumber: sent.sequenceNumber.toString(),
      ...(error !== undefined && { error }),
    });
  }

  /** Counts, reports and decides what follows a failed write. */
  #failed(player: Player, sent: WriteRequest & { sequenceNumber: bigint }, error: unknown, startedAt: number, attempt: number, afterAmbiguous: boolean): RetryDecision {
    // A write the client refused before sending is not a request (no status 0 in stats).
    if (!(error instanceof MpaValidationError)) {
      const status = error instanceof MpaError ? (error.status ?? 0) : 0;
      this.#requestDone(player, sent, status, startedAt, attempt, error instanceof MpaError ? error.code : 'TRANSPORT');
    }
    return this.#decide({ xuid: player.xuid, groupId: sent.groupId, method: sent.method }, 'write', 'write', error, attempt, afterAmbiguous);
  }

  /** Asks the retry policy, then applies its side effects: budget holds, counters, events. */
  #decide(base: { xuid: string; groupId: string; method: 'PUT' | 'DELETE' | 'POST' }, call: 'write' | 'read' | 'post', category: RateCategory, error: unknown, attempt: number, afterAmbiguous: boolean): RetryDecision {
    const decision = retryPolicy({ error, attempt, call, afterAmbiguous }, this.#policy, this.#random());
    const mpaError = error instanceof MpaError ? error : new MpaTransportError('network', 'the request failed', { cause: error });
    if (decision.kind === 'retry') {
      if (decision.retryAfterMs !== undefined) {
        this.#scheduler.block(decision.scope === 'user' ? base.xuid : undefined, this.#clock.monotonic() + decision.delayMs, category);
        this.#stats.throttled++;
        this.emit('throttled', { ...base, retryAfterMs: decision.retryAfterMs, scope: decision.scope });
      } else if (error instanceof MpaThrottledError) this.#stats.throttled++;
      this.#stats.retries++;
      this.emit('retry', { ...base, attempt: attempt + 1, delayMs: decision.delayMs, cause: error instanceof MpaError ? error.code : 'UNKNOWN' });
      if (error instanceof MpaAuthorizationError) this.emit('error', { ...base, error: mpaError });
    } else if (decision.kind === 'superseded') this.#stats.superseded++;
    else if (decision.kind === 'give-up' && call === 'write') {
      this.#stats.failed++;
      this.emit('error', { ...base, error: mpaError });
    }
    return decision;
  }

  /** After an ambiguous attempt and a stale answer: whose activity is on the service? */
  #verify(player: Player): void {
    const lease = this.#scheduler.acquire(player.xuid, 1, 'read');
    if (typeof lease === 'number') {
      this.#sendTo(player, { type: 'VERIFY_FAILED', now: this.#clock.monotonic(), delayMs: lease });
      return;
    }
    const xuid = player.xuid;
    this.#scheduler.run(lease, async () => {
      const startedAt = this.#clock.monotonic();
      const context = this.#contextOf(player);
      const base = { xuid, groupId: player.groupId, attempt: context.attempt, reason: 'verify' as const, sequenceNumber: '' };
      player.inFlight = true;
      try {
        const activity = await this.#client.getActivity(xuid, { signal: this.#shutdown.signal });
        this.#record('GET', activity ? 200 : 204);
        this.emit('request', { ...base, method: 'GET', status: activity ? 200 : 204, latencyMs: Math.round(this.#clock.monotonic() - startedAt) });
        const seq = activity?.sequenceNumber === undefined ? undefined : BigInt(activity.sequenceNumber);
        const holds = activity === null ? 'none' : seq !== undefined && seq <= this.#stamper.highestSent(xuid) ? 'ours' : 'newer';
        this.#sendTo(player, { type: 'VERIFIED', now: this.#clock.monotonic(), holds, activity: activity && contentOf(activity) });
      } catch (error) {
        const status = error instanceof MpaError ? (error.status ?? 0) : 0;
        this.#record('GET', status);
        this.emit('request', { ...base, method: 'GET', status, latencyMs: Math.round(this.#clock.monotonic() - startedAt), error: error instanceof MpaError ? error.code : 'TRANSPORT' });
        const decision = this.#decide({ xuid, groupId: player.groupId, method: 'PUT' }, 'read', 'read', error, context.attempt, false);
        const delayMs = decision.kind === 'retry' ? decision.delayMs : this.#options.backoff.capMs;
        this.#sendTo(player, { type: 'VERIFY_FAILED', now: this.#clock.monotonic(), delayMs });
      } finally {
        player.inFlight = false;
      }
      return true;
    }).catch((error: unknown) => this.#internalFailure(error));
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
      const decision = this.#decide({ ...base, method: 'POST' }, 'post', category, error, attempt, false);
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

  /** Resolves true when `promise` settles, false when `timeoutMs` passes first (on the engine's clock). */
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
    for (const p of this.#players.values()) if (!SETTLED[p.state]) out.push({ xuid: p.xuid, groupId: p.groupId, state: p.state });
    return out;
  }

  /**
   * A request job that threw: a bug in mpa-sync, never the service's answer (#write and the
   * verifying read catch those). The game server must outlive it, so it becomes a warning
   * naming the error's type (never its message, which could quote a request), once.
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

/**
 * An activity read back, without the fields the service adds. The service may leave out
 * connectionString and joinRestriction; an empty value then never equals a desired state
 * (whose connection string is never empty), so a verify resends rather than trusting it.
 */
function contentOf(activity: { connectionString?: string | undefined; joinRestriction?: string | undefined; currentPlayers?: number | undefined; maxPlayers?: number | undefined; groupId?: string | undefined; platform?: string | undefined }): ActivityContent {
  return {
    connectionString: activity.connectionString ?? '',
    joinRestriction: (activity.joinRestriction ?? '') as ActivityContent['joinRestriction'],
    currentPlayers: activity.currentPlayers ?? 1,
    maxPlayers: activity.maxPlayers ?? 2,
    groupId: activity.groupId ?? '',
    ...(activity.platform !== undefined && { platform: activity.platform as NonNullable<ActivityContent['platform']> }),
  } as ActivityContent;
}

export { throttleScope } from './retry-policy.js';
