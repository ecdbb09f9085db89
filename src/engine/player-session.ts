/**
 * One player's life: their chart's snapshot, the chart's timers, and the request under way.
 * The session feeds events to the chart one at a time (as an actor's mailbox would), executes
 * what the chart asks (schedule or cancel a delay, send) and tells its owner what
 * happened through one `report` function. It decides nothing itself: the chart does.
 */
import type { SnapshotFrom } from 'xstate';
import type { MpaClient } from '../client.js';
import { MpaError, MpaTransportError, MpaValidationError } from '../errors.js';
import type { SequenceStamper } from '../sequence.js';
import type { ChartStepper, ChartEffect } from './chart-step.js';
import type { EngineClock } from './clock.js';
import { requestFor, type PlayerContext, type PlayerEmitted, type PlayerEvent, type PlayerMachine, type PlayerState, type WriteRequest } from './player-chart.js';
import type { FailedCall, RetryDecision } from './retry-policy.js';
import type { Scheduler } from './scheduler.js';

type Snapshot = SnapshotFrom<PlayerMachine>;

/** What a session tells its owner. */
export type SessionReport =
  | { kind: 'state'; state: PlayerState; previous: PlayerState }
  | { kind: 'request'; method: 'PUT' | 'DELETE'; groupId: string; status: number; startedAt: number; attempt: number; reason: WriteRequest['reason']; joinability: boolean; sequenceNumber: bigint; error?: MpaError }
  | { kind: 'failed'; method: 'PUT' | 'DELETE'; groupId: string; error: MpaError; decision: RetryDecision; attempt: number }
  | { kind: 'succeeded' }
  | { kind: 'synced'; event: Extract<PlayerEmitted, { type: 'synced' }> }
  | { kind: 'superseded'; groupId: string; method: 'PUT' | 'DELETE' };

/** What every session of an engine shares. */
export interface SessionDeps {
  stepper: ChartStepper<PlayerMachine, PlayerEmitted>;
  clock: EngineClock;
  scheduler: Scheduler;
  client: MpaClient;
  stamper: SequenceStamper;
  /** The retry policy, with the engine's settings and random source. */
  decide(failed: FailedCall): RetryDecision;
  /** A flush is waiting: a paced change goes now. */
  flushing(): boolean;
  /** Aborted when the engine closes: stops requests under way. */
  signal: AbortSignal;
  /** Where the session reports; must not throw. */
  report(session: PlayerSession, report: SessionReport): void;
  /** A request job that threw: a bug, never the service's answer. */
  internalFailure(error: unknown): void;
}

/** One player's chart, timers and request. */
export class PlayerSession {
  readonly xuid: string;
  #snapshot: Snapshot;
  #state: PlayerState = 'idle';
  readonly #deps: SessionDeps;
  /** Pending `after` delays of the chart, by id (made when the first is scheduled: most players rest without one). */
  #timers: Map<string, unknown> | undefined;
  /** Events caused while the chart handles another wait here, in order. */
  #inbox: PlayerEvent[] | undefined;
  #stepping = false;
  /** Bumped at every `send`: a queued request runs only if it is still the newest. */
  #ticket = 0;
  #inFlight = false;
  #stopped = false;
  /** Whether any request was ever sent for this player. */
  sent = false;

  constructor(xuid: string, groupId: string, countRefreshIntervalMs: number, deps: SessionDeps) {
    this.xuid = xuid;
    this.#deps = deps;
    // The initial state is `idle`, whose entry only reports `idle`: what a new player is.
    this.#snapshot = deps.stepper.initial({ xuid, groupId, countRefreshIntervalMs })[0];
  }

  /** The public state: idle, active, updating, leaving or gone. */
  get state(): PlayerState {
    return this.#state;
  }

  get context(): PlayerContext {
    return this.#snapshot.context;
  }

  /** A request of this player is on the wire (it may land even if nobody waits for it). */
  get inFlight(): boolean {
    return this.#inFlight;
  }

  /** Whether the chart is in a state with this tag (`settled`, `paced`). */
  hasTag(tag: 'settled' | 'paced'): boolean {
    return this.#snapshot.hasTag(tag);
  }

  /** Hands an event to the chart; events it causes are handled after it, in order. */
  send(event: PlayerEvent | { type: string }): void {
    if (this.#stopped) return;
    if (this.#stepping) {
      (this.#inbox ??= []).push(event as PlayerEvent);
      return;
    }
    this.#stepping = true;
    try {
      for (let next: PlayerEvent | undefined = event as PlayerEvent; next !== undefined && !this.#stopped; next = this.#inbox?.shift()) {
        if (this.#snapshot.status !== 'active') break;
        const [snapshot, effects] = this.#deps.stepper.step(this.#snapshot, next);
        this.#snapshot = snapshot;
        this.#execute(effects);
        if (!this.#inbox?.length && this.#deps.flushing() && snapshot.hasTag('paced')) (this.#inbox ??= []).push({ type: 'FLUSH' });
      }
    } finally {
      this.#stepping = false;
      this.#inbox = undefined;
    }
  }

  /** Stops the chart's timers; the session takes no more events. A request on the wire finishes unheard. */
  stop(): void {
    this.#stopped = true;
    this.#ticket++;
    for (const handle of this.#timers?.values() ?? []) this.#deps.clock.clearTimeout(handle);
    this.#timers = undefined;
  }

  #execute(effects: readonly ChartEffect<PlayerEmitted>[]): void {
    for (const effect of effects) {
      if (effect.kind === 'emit') this.#onEmitted(effect.event);
      else if (effect.kind === 'cancel') this.#cancel(effect.id);
      else {
        this.#cancel(effect.id);
        const handle = this.#deps.clock.setTimeout(() => {
          if (this.#timers?.get(effect.id) !== handle) return;
          this.#timers!.delete(effect.id);
          this.send(effect.event);
        }, effect.delayMs);
        (this.#timers ??= new Map()).set(effect.id, handle);
      }
    }
  }

  #cancel(id: string): void {
    const handle = this.#timers?.get(id);
    if (handle === undefined) return;
    this.#deps.clock.clearTimeout(handle);
    this.#timers!.delete(id);
  }

  #onEmitted(event: PlayerEmitted): void {
    switch (event.type) {
      case 'state': {
        const previous = this.#state;
        if (previous === event.state) return;
        this.#state = event.state;
        this.#deps.report(this, { kind: 'state', state: event.state, previous });
        return;
      }
      case 'send':
        return this.#send(event.priority);
      case 'synced':
        return this.#deps.report(this, { kind: 'synced', event });
      case 'superseded':
        return this.#deps.report(this, { kind: 'superseded', groupId: event.groupId, method: event.method });
    }
  }

  /** Within the budget, through the queue; the chart hears WAIT, or STARTED and the answer. */
  #send(priority: 0 | 1 | 2): void {
    const ticket = ++this.#ticket;
    const lease = this.#deps.scheduler.acquire(this.xuid, priority);
    if (typeof lease === 'number') {
      this.send({ type: 'WAIT', ms: lease });
      return;
    }
    this.#deps.scheduler.run(lease, () => this.#write(ticket)).catch((error: unknown) => this.#deps.internalFailure(error));
  }

  /** Sends the newest write, read from the chart when it leaves. Never throws. */
  async #write(ticket: number): Promise<boolean> {
    if (ticket !== this.#ticket || this.#stopped || !this.#snapshot.hasTag('queued')) return false;
    const context = this.context;
    const request = requestFor(context);
    if (!request) {
      this.send({ type: 'SKIPPED' });
      return false;
    }
    // A hold that began while this request waited in the queue (a Retry-After for everyone, an
    // authorization outage) holds it too: the slot goes back and the chart waits.
    const held = this.#deps.scheduler.heldFor(this.xuid);
    if (held > 0) {
      this.send({ type: 'WAIT', ms: held });
      return false;
    }
    this.send({ type: 'STARTED' });
    const { stamper, client, clock, signal } = this.#deps;
    const sequenceNumber = request.method === 'PUT' ? stamper.stamp(this.xuid, context.changedAt) : stamper.deleteNumber(this.xuid);
    const startedAt = clock.monotonic();
    const attempt = context.attempt;
    this.#inFlight = true;
    this.sent = true;
    try {
      if (request.method === 'PUT') await client.setActivity(this.xuid, { ...request.activity!, sequenceNumber }, { signal });
      else await client.deleteActivity(this.xuid, { sequenceNumber }, { signal });
      this.#inFlight = false;
      this.#deps.report(this, { kind: 'request', method: request.method, groupId: request.groupId, status: 204, startedAt, attempt, reason: request.reason, joinability: request.joinability, sequenceNumber });
      this.#deps.report(this, { kind: 'succeeded' });
      this.send({ type: 'SENT', request, sequenceNumber });
    } catch (caught) {
      this.#inFlight = false;
      const error = asMpaError(caught);
      // A write the client refused before sending is not a request.
      if (!(error instanceof MpaValidationError)) {
        this.#deps.report(this, { kind: 'request', method: request.method, groupId: request.groupId, status: error.status ?? 0, startedAt, attempt, reason: request.reason, joinability: request.joinability, sequenceNumber, error });
      }
      const decision = this.#deps.decide({ error, attempt, call: 'write' });
      this.#deps.report(this, { kind: 'failed', method: request.method, groupId: request.groupId, error, decision, attempt });
      this.send({ type: 'FAILED', request, decision });
    }
    return true;
  }
}

function asMpaError(error: unknown): MpaError {
  return error instanceof MpaError ? error : new MpaTransportError('network', 'the request failed', { cause: error });
}
