/**
 * ActivitySync: the registry of players and groups, the scheduler (budgets and one p-queue)
 * and the events. Groups compute each member's desired state; the engine hands the one a
 * player should show to that player's session (player-session.ts), whose chart decides what to
 * send and when. Data flows one way: group -> desired state -> player session -> queue ->
 * client; sessions and the scheduler report back only as events.
 */
import { setMaxListeners } from 'node:events';
import { debuglog } from 'node:util';
import type { z } from 'zod';
import type { MpaClient } from '../client.js';
import { MpaTransportError, MpaUsageError, MpaClosedError, MpaThrottledError, type MpaError } from '../errors.js';
import type { RandomSource } from '../random.js';
import { resolveRateLimits, type RateCategory, type RateLimitConfig } from '../rate-limits.js';
import { parseInput } from '../schemas.js';
import { SequenceStamper, xboxSequenceNumber } from '../sequence.js';
import { ChartStepper } from './chart-step.js';
import { every, resolveClock, type EngineClock } from './clock.js';
import type { ActivityContent, SendReason } from './desired.js';
import type { PlayerStateName, SyncStats } from './events.js';
import { DueQueue } from './due-queue.js';
import { MatchGroup, type GroupOptions, type GroupSink } from './group.js';
import { Memberships } from './memberships.js';
import { OutageTracker } from './outage.js';
import { createPlayerMachine, type ChartDeps, type PlayerEmitted, type PlayerMachine } from './player-chart.js';
import { PlayerSession, type SessionDeps, type SessionReport } from './player-session.js';
import { reportRecentPlayers, sendInvites, type PostDeps, type PostReport } from './post-calls.js';
import { retryPolicy, type FailedCall, type RetryDecision, type RetrySettings } from './retry-policy.js';
import { SafeEmitter } from './safe-emitter.js';
import { Scheduler } from './scheduler.js';
import { Waiters } from './waiters.js';
import { msOption, optionsSchema, type ActivitySyncOptions, type CloseResult, type FlushResult } from './sync-options.js';

export type { ActivitySyncOptions, CloseResult, FlushResult } from './sync-options.js';

/** `NODE_DEBUG=mpa-sync` prints what the engine does, one line per request, retry, outage and state change. */
const debug = debuglog('mpa-sync');

/** A player: their session, and the groups that hold them, in the order they joined. */
interface Player {
  readonly session: PlayerSession;
  /** The groups that hold the player, and which one they show. */
  readonly memberships: Memberships;
  /** Group of the newest desired state, for events after the player left. */
  groupId: string;
  /** Bumped each time the player starts or stops resting: stale keep-alive entries are ignored. */
  restGen: number;
}

/**
 * @internal What a test may replace: the chart, built on the engine's clock (to show that an
 * edit made with `machine.provide()` drives the engine exactly as it would a live actor).
 */
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
export class ActivitySync extends SafeEmitter {
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
  readonly #waiters: Waiters;
  /** Players who are gone but whose activity may still be on the service (a DELETE refused for good). */
  readonly #leftovers = new Map<string, string>();
  readonly #stats = { requests: {} as Record<string, Record<string, number>>, coalesced: 0, throttled: 0, retries: 0, superseded: 0, failed: 0 };
  /** Players updating or leaving: flush waits for this to reach 0 (a count, not a scan). */
  #unsettled = 0;
  #flushing = 0;
  /** Keep-alives of resting players, in the order they last wrote (`keepAliveMs` is the same for all). */
  readonly #keepAlive: DueQueue<{ xuid: string; gen: number }>;
  /** Sweeps of the budget logs, once the windows of retired players have passed. */
  readonly #sweeps: DueQueue<true>;
  #lastSweepAt = Number.NEGATIVE_INFINITY;
  #gen = 0;
  readonly #sink: GroupSink;
  readonly #sessionDeps: SessionDeps;
  readonly #postDeps: PostDeps;
  /** Aborted by close(): stops requests, invites and reports still under way. */
  readonly #shutdown = new AbortController();
  #closed = false;
  /** The one close under way or done: every close() resolves with its result. */
  #closing: Promise<CloseResult> | undefined;
  /** Who was unsettled when close() ended: what a flush that close ended resolves with. */
  #unsettledAtClose: FlushResult['unsettled'] | undefined;

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
    this.#waiters = new Waiters(this.#clock, () => this.#closed && this.#players.size === 0);
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
    this.#postDeps = {
      client: this.#client,
      scheduler: this.#scheduler,
      clock: this.#clock,
      signal: this.#shutdown.signal,
      decide: (failed) => this.#decide(failed),
      report: (report) => this.#onPost(report),
    };
    const clock = this.#clock;
    this.#sink = {
      desire: (xuid, groupId, activity, reason) => this.#desire(xuid, groupId, activity, reason),
      release: (group) => void (this.#groups.get(group.groupId) === group && this.#groups.delete(group.groupId)),
      settled: (xuids) => this.#waiters.untilSettled(xuids, (x) => this.#players.get(x)?.session.hasTag('settled') ?? true),
      assertOpen: () => this.#assertOpen(),
      invite: (groupId, settings, sender, xuids) => sendInvites(this.#postDeps, groupId, settings, sender, xuids),
      reportRecentPlayers: (groupId, groups) => reportRecentPlayers(this.#postDeps, groupId, groups),
      wallNow: () => clock.wall(),
      every: (everyMs, callback) => every(clock, everyMs, callback),
      onError: (error, groupId) => {
        this.emit('error', { groupId, error });
      },
    };
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
    const done = this.#waiters.until(() => this.#unsettled === 0);
    return this.#waiters.bounded(done, timeoutMs).then((finished) => {
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
    await this.#waiters.bounded(Promise.all([this.#waiters.until(() => this.#players.size === 0), ...closing]), timeoutMs);
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
    this.#waiters.wake();
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
    const { session } = player;
    const shown = player.memberships.change(groupId, activity, reason);
    if (!shown) return;
    this.#leftovers.delete(xuid);
    // A change replacing one that was still waiting: counted as coalesced.
    // (A leave before anything was sent is counted once, when the player is gone.)
    if ((session.state === 'updating' || session.state === 'leaving') && !session.inFlight && (shown.activity !== null || session.sent)) this.#stats.coalesced++;
    player.groupId = shown.groupId;
    session.send({ type: 'DESIRE', ...shown, at });
  }

  #spawn(xuid: string, groupId: string): Player {
    const player: Player = {
      session: new PlayerSession(xuid, groupId, this.#options.countRefreshIntervalMs, this.#sessionDeps),
      memberships: new Memberships(),
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
    if (settledNow) {
      this.#waiters.settled(player.session.xuid);
      this.#waiters.wake();
    }
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

  #onPost(report: PostReport): void {
    if (report.kind === 'failed') {
      this.#applyDecision({ xuid: report.xuid, groupId: report.groupId, method: 'POST' }, report.category, report.error, report.decision, report.attempt);
      return;
    }
    this.#record('POST', report.status);
    const { xuid, groupId, status, latencyMs, attempt, reason, error } = report;
    this.emit('request', { xuid, groupId, method: 'POST', status, latencyMs, attempt, reason, sequenceNumber: '', ...(error && { error: error.code }) });
  }

  #record(method: string, status: number): void {
    const byStatus = (this.#stats.requests[method] ??= {});
    byStatus[status] = (byStatus[status] ?? 0) + 1;
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
    const name = error instanceof Error ? error.name : typeof error;
    this.warnOnce('internal', `mpa-sync: a request job failed unexpectedly (${name}); the engine went on`, 'MPA_SYNC_INTERNAL_ERROR');
  }
}
