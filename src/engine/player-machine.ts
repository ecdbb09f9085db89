/**
 * One player's activity on the service, as an XState v5 statechart. The chart owns the whole
 * life: what is wanted, what the service holds from us, when to send, wait, verify or back off,
 * and when the player is gone. It performs no I/O: it emits `send` and `verify` to the engine,
 * which answers with events (`WAIT`, `SENT`, `FAILED`, `SKIPPED`, `VERIFIED`, `VERIFY_FAILED`).
 *
 * ```
 *                 DESIRE (a change)                                      SENT, nothing left
 *   idle ─────────────────────────────▶ updating ─────────────────────────────────▶ active
 *    │ ▲                                 pacing ─▶ sending ◀─ waiting                │  │
 *    │ │ content equal: no request         │  ▲  │    ▲                               │  │ keep-alive
 *    │ └───────────────────────────────────┘  │  ▼    │                               │  │ or DESIRE
 *    │                                       verifying  backingOff ◀──────────────────┘  │
 *    │ leave                                                                            │ leave
 *    ▼                                                                                  ▼
 *   gone ◀──────────── DELETE accepted / superseded / nothing of ours on the service ── leaving
 *  (final)                                   (waiting, sending, verifying, backingOff)
 * ```
 *
 * `idle` and `active` are tagged `settled`: nothing to send. The keep-alive is an event
 * (`KEEPALIVE`): the engine keeps one timer for every resting player. The engine runs the chart
 * without live actors (see chart-runner.ts): it keeps each player's state and context, and
 * replays the transitions XState computed once for the same state, event and target. Every wait is a delay computed from the context (absolute
 * deadlines, turned into durations with the `now` each event carries), so re-entering a state
 * after a change never restarts a wait from zero.
 */
import { assign, emit, setup } from 'xstate';
import type { RetryDecision } from './retry-policy.js';
import { changeKind, PRIORITY, sameContent, type ActivityContent, type Priority, type SendReason } from './desired.js';

/** What the engine sends or sent for a player. */
export interface WriteRequest {
  method: 'PUT' | 'DELETE';
  groupId: string;
  /** The content of a PUT; null for a DELETE. */
  activity: ActivityContent | null;
  /** Stamped when the change happened; undefined: the engine stamps it when it leaves (keep-alive, DELETE). */
  sequenceNumber: bigint | undefined;
  reason: SendReason;
}

/** Where the player is; the public names are the top-level ones. */
export type Where =
  | 'idle'
  | 'active'
  | 'updating.pacing'
  | 'updating.waiting'
  | 'updating.sending'
  | 'updating.verifying'
  | 'updating.backingOff'
  | 'leaving.waiting'
  | 'leaving.sending'
  | 'leaving.verifying'
  | 'leaving.backingOff';
type Next = Where | 'gone' | 'stay';

/** A state of the chart as a dotted path (`updating.sending`); `gone` is final. */
export type ChartStateValue = Where | 'gone';

export interface PlayerContext {
  readonly xuid: string;
  readonly keepAliveMs: number;
  readonly countRefreshIntervalMs: number;
  /** Group of the newest desired state. */
  groupId: string;
  /** What the game server wants on the service; null: nothing (the player left). */
  desired: ActivityContent | null;
  /** Sequence number stamped when `desired` last changed. */
  desiredSeq: bigint | undefined;
  /** Why: a join sticks until it is published. */
  reason: SendReason;
  /** What the service holds from us (last accepted PUT); null: nothing of ours. */
  published: ActivityContent | null;
  /** When the published state first differed from the desired one (monotonic ms). */
  wrongSince: number | undefined;
  /** First change while a request was under way. */
  changedInFlightAt: number | undefined;
  /** Deadlines (monotonic ms): Retry-After or budget, backoff. */
  waitAt: number;
  retryAt: number;
  /** The priority the budget answered `waitAt` for. */
  waitPriority: Priority;
  /** The delay of the state being entered, from the deadlines above. */
  delayMs: number;
  /** Consecutive failures of the current write. */
  attempt: number;
  /** The service may hold an activity we wrote (accepted, or possibly landed). */
  mayHold: boolean;
  /** A newer writer (another server, the console) owns the activity. */
  superseded: boolean;
  /** The last attempt was refused for good: rest until the next change. */
  abandoned: boolean;
  /** An attempt of the current write failed in a way that may have landed. */
  ambiguous: boolean;
  /** A stale answer after an ambiguous attempt that a read has not explained yet. */
  unverified: boolean;
  /** The keep-alive timer fired: rewrite the published state although nothing changed. */
  keepAliveDue: boolean;
  /** A flush wants paced changes sent now. */
  flushing: boolean;
  /** Routing decision of the event being handled (see {@link reduce}). */
  next: Next;
}

/** Events the engine sends to a player's actor. Every one that moves time carries `now`. */
export type PlayerEvent =
  | { type: 'DESIRE'; now: number; groupId: string; activity: ActivityContent | null; sequenceNumber: bigint | undefined; reason: SendReason }
  | { type: 'FLUSH'; now: number }
  | { type: 'WAIT'; now: number; ms: number }
  | { type: 'SKIPPED'; now: number }
  | { type: 'SENT'; now: number; startedAt: number; request: WriteRequest & { sequenceNumber: bigint } }
  | { type: 'FAILED'; now: number; request: WriteRequest; decision: RetryDecision }
  | { type: 'VERIFIED'; now: number; holds: 'ours' | 'newer' | 'none'; activity: ActivityContent | null }
  | { type: 'VERIFY_FAILED'; now: number; delayMs: number }
  /** `keepAliveMs` passed since the last write (the engine keeps one timer for all resting players). */
  | { type: 'KEEPALIVE' };

/** Top-level states, as reported by `playerState()` and the `state` event. */
export type PlayerState = 'idle' | 'active' | 'updating' | 'leaving' | 'gone';

/** Events the chart emits to the engine (read with `actor.on`). */
export type PlayerEmitted =
  | { type: 'send'; xuid: string; priority: Priority }
  | { type: 'verify'; xuid: string }
  | { type: 'state'; xuid: string; state: PlayerState }
  | { type: 'paced'; xuid: string; paced: boolean }
  | { type: 'synced'; xuid: string; groupId: string; method: 'PUT' | 'DELETE'; sequenceNumber: bigint; stalenessMs: number };

/** Input of a player's actor. */
export interface PlayerInput {
  xuid: string;
  groupId: string;
  keepAliveMs: number;
  countRefreshIntervalMs: number;
}

/** A player's context on entering the chart: nothing wanted, nothing published. */
export function initialContext(input: PlayerInput): PlayerContext {
  return {
    xuid: input.xuid,
    keepAliveMs: input.keepAliveMs,
    countRefreshIntervalMs: input.countRefreshIntervalMs,
    groupId: input.groupId,
    desired: null,
    desiredSeq: undefined,
    reason: 'join',
    published: null,
    wrongSince: undefined,
    changedInFlightAt: undefined,
    waitAt: 0,
    retryAt: 0,
    waitPriority: PRIORITY.count,
    delayMs: 0,
    attempt: 0,
    mayHold: false,
    superseded: false,
    abandoned: false,
    ambiguous: false,
    unverified: false,
    keepAliveDue: false,
    flushing: false,
    next: 'stay',
  };
}

/** The priority of the next write: a leave, a change a friend can act on, a count or keep-alive. */
export function priorityOf(c: Pick<PlayerContext, 'desired' | 'published' | 'superseded'>): Priority {
  if (c.desired === null) return PRIORITY.leave;
  return changeKind(c.superseded ? null : c.published, c.desired) === 'joinability' ? PRIORITY.settings : PRIORITY.count;
}

/**
 * The write to send now, read when the request actually leaves (so a request waiting in the
 * queue carries the newest state), or null when nothing needs sending any more.
 */
export function requestFor(c: PlayerContext): WriteRequest | null {
  if (c.desired === null) {
    if (!c.mayHold || c.superseded) return null;
    return { method: 'DELETE', groupId: c.groupId, activity: null, sequenceNumber: undefined, reason: 'leave' };
  }
  if (c.superseded && c.reason !== 'join') return null;
  const kind = changeKind(c.superseded ? null : c.published, c.desired);
  if (kind === 'none') {
    if (!c.keepAliveDue) return null;
    return { method: 'PUT', groupId: c.groupId, activity: c.desired, sequenceNumber: undefined, reason: 'keepalive' };
  }
  const reason: SendReason = c.reason === 'join' || c.published === null ? 'join' : kind === 'count' ? 'count' : 'settings';
  return { method: 'PUT', groupId: c.groupId, activity: c.desired, sequenceNumber: c.desiredSeq, reason };
}

/** Where a player with nothing under way goes next. */
function settle(c: PlayerContext, now: number): Exclude<Next, 'stay'> {
  if (c.desired === null) {
    if (!c.mayHold || c.superseded || c.abandoned) return 'gone';
    if (c.retryAt > now) return 'leaving.backingOff';
    if (c.waitAt > now && PRIORITY.leave >= c.waitPriority) return 'leaving.waiting';
    return 'leaving.sending';
  }
  const rest = c.published !== null && !c.superseded ? 'active' : 'idle';
  if (c.superseded && c.reason !== 'join') return 'idle';
  if (c.abandoned) return rest;
  const kind = changeKind(c.superseded ? null : c.published, c.desired);
  if (kind === 'none' && !c.keepAliveDue && !c.unverified) return rest;
  if (c.retryAt > now) return 'updating.backingOff';
  if (c.unverified) return 'updating.verifying';
  // A more urgent change than the one the budget held back asks again at once.
  if (c.waitAt > now && priorityOf(c) >= c.waitPriority) return 'updating.waiting';
  if (kind === 'count' && !c.flushing && (c.wrongSince ?? now) + c.countRefreshIntervalMs > now) return 'updating.pacing';
  return 'updating.sending';
}

function delayFor(c: PlayerContext, next: Next, now: number): number {
  if (next === 'updating.pacing') return Math.max(0, (c.wrongSince ?? now) + c.countRefreshIntervalMs - now);
  if (next.endsWith('waiting')) return Math.max(0, c.waitAt - now);
  if (next.endsWith('backingOff')) return Math.max(0, c.retryAt - now);
  return 0;
}

/**
 * The chart's one reducer: the context after `event` in state `where`, with `next`, the state
 * to go to ('stay': no transition). Pure; the guards and the assign action share it.
 */
export function reduce(c: PlayerContext, event: PlayerEvent, where: Where): PlayerContext {
  const inFlight = where.endsWith('sending') || where.endsWith('verifying');
  let n: PlayerContext;
  switch (event.type) {
    case 'DESIRE': {
      const wasWrong = !sameContent(c.published, c.desired) || c.desired === null;
      const join = event.reason === 'join';
      n = {
        ...c,
        groupId: event.groupId,
        desired: event.activity,
        desiredSeq: event.sequenceNumber ?? c.desiredSeq,
        reason: join ? 'join' : c.reason === 'join' && c.published === null ? 'join' : event.reason,
        superseded: c.superseded && !join,
        abandoned: false,
      };
      const wrongNow = event.activity === null ? c.mayHold : !sameContent(c.published, event.activity);
      if (!wrongNow) n.wrongSince = undefined;
      else if (!wasWrong || n.wrongSince === undefined) n.wrongSince = event.now;
      if (inFlight) {
        if (n.changedInFlightAt === undefined) n.changedInFlightAt = event.now;
        n.next = 'stay';
        return n;
      }
      break;
    }
    case 'FLUSH':
      n = { ...c, flushing: true };
      if (inFlight) return { ...n, next: 'stay' };
      break;
    case 'WAIT':
      n = { ...c, waitAt: event.now + event.ms, waitPriority: priorityOf(c) };
      break;
    case 'SKIPPED':
      n = { ...c };
      break;
    case 'SENT': {
      const r = event.request;
      const published = r.activity;
      const wrong = c.desired === null ? published !== null || r.method === 'PUT' : !sameContent(published, c.desired);
      n = {
        ...c,
        published,
        mayHold: r.method === 'PUT',
        superseded: false,
        attempt: 0,
        ambiguous: false,
        unverified: false,
        keepAliveDue: false,
        flushing: false,
        reason: wrong && c.reason === 'join' && r.method === 'DELETE' ? 'join' : wrong ? c.reason : 'settings',
        wrongSince: wrong ? Math.max(c.changedInFlightAt ?? event.startedAt, event.startedAt) : undefined,
        changedInFlightAt: undefined,
      };
      break;
    }
    case 'FAILED': {
      const d = event.decision;
      n = { ...c, changedInFlightAt: undefined };
      if (d.kind === 'retry') {
        n.retryAt = event.now + d.delayMs;
        n.attempt = c.attempt + 1;
        n.ambiguous = c.ambiguous || d.ambiguous;
        n.mayHold = c.mayHold || (d.ambiguous && event.request.method === 'PUT');
      } else if (d.kind === 'verify') {
        n.unverified = true;
        n.attempt = c.attempt + 1;
      } else if (d.kind === 'superseded') {
        // A newer writer owns the activity: never retried, no keep-alive, no DELETE on leave.
        Object.assign(n, { superseded: true, published: null, mayHold: false, attempt: 0, ambiguous: false, keepAliveDue: false });
      } else {
        Object.assign(n, { abandoned: true, attempt: 0, keepAliveDue: false, mayHold: c.mayHold || (d.ambiguous && event.request.method === 'PUT') });
      }
      break;
    }
    case 'VERIFIED': {
      n = { ...c, unverified: false, ambiguous: false, attempt: 0 };
      if (event.holds === 'ours') {
        // Our earlier attempt landed: the service holds what the read says.
        Object.assign(n, { published: event.activity, mayHold: event.activity !== null, superseded: false });
        if (c.desired !== null && sameContent(event.activity, c.desired)) n.wrongSince = undefined;
      } else if (event.holds === 'none' && c.desired === null) {
        Object.assign(n, { published: null, mayHold: false });
      } else {
        Object.assign(n, { superseded: true, published: null, mayHold: false });
      }
      break;
    }
    case 'KEEPALIVE':
      return { ...c, next: 'stay' };
    case 'VERIFY_FAILED':
      // Nothing silently left behind: read again after a backoff, or (on leave) send the DELETE.
      n = { ...c, retryAt: event.now + event.delayMs, attempt: c.attempt + 1, unverified: c.desired !== null, mayHold: true };
      break;
  }
  const target = settle(n, event.now);
  n.delayMs = delayFor(n, target, event.now);
  n.next = target === where && !(event.type === 'WAIT' || event.type === 'SKIPPED' || event.type === 'FAILED' || event.type === 'SENT' || event.type === 'VERIFIED' || event.type === 'VERIFY_FAILED') ? 'stay' : target;
  return n;
}

/**
 * What the chart emits, built from the context (and, for `synced`, the event): the chart's emit
 * actions call these, and the runner's learned transitions (chart-runner.ts) call the same ones.
 * `synced` is a transition action, run before `apply`: it sees the context before the event.
 */
export const emitted = {
  state: (c: PlayerContext, state: PlayerState): PlayerEmitted => ({ type: 'state', xuid: c.xuid, state }),
  paced: (c: PlayerContext, paced: boolean): PlayerEmitted => ({ type: 'paced', xuid: c.xuid, paced }),
  send: (c: PlayerContext): PlayerEmitted => ({ type: 'send', xuid: c.xuid, priority: priorityOf(c) }),
  verify: (c: PlayerContext): PlayerEmitted => ({ type: 'verify', xuid: c.xuid }),
  synced: (c: PlayerContext, event: PlayerEvent): PlayerEmitted => {
    // Only called on SENT; the narrowing keeps TypeScript honest without a cast.
    const r = event.type === 'SENT' ? event.request : undefined;
    return {
      type: 'synced',
      xuid: c.xuid,
      groupId: r?.groupId ?? c.groupId,
      method: r?.method ?? 'PUT',
      sequenceNumber: r?.sequenceNumber ?? 0n,
      stalenessMs: event.type === 'SENT' ? Math.max(0, event.now - (c.wrongSince ?? event.now)) : 0,
    };
  },
};

/** The events every state routes through {@link reduce}: their target is `reduce(...).next`. */
export const REDUCED_EVENTS: ReadonlySet<string> = new Set(['DESIRE', 'FLUSH', 'WAIT', 'SKIPPED', 'SENT', 'FAILED', 'VERIFIED', 'VERIFY_FAILED']);

// Most frequent first: guards are evaluated in this order.
const TARGETS: Exclude<Next, 'stay'>[] = [
  'active',
  'updating.sending',
  'updating.pacing',
  'gone',
  'idle',
  'updating.waiting',
  'updating.verifying',
  'updating.backingOff',
  'leaving.waiting',
  'leaving.sending',
  'leaving.verifying',
  'leaving.backingOff',
];

/** Builds the chart. One machine serves every player of an engine. */
export function createPlayerMachine() {
  // The reducer runs once per event: the guards and the action of one transition run one
  // after the other, synchronously, so a one-slot cache is enough (a WeakMap per event cost
  // the garbage collector more than the reducer itself).
  let lastEvent: PlayerEvent | undefined;
  let lastFrom: PlayerContext | undefined;
  let lastTo: PlayerContext | undefined;
  const reduced = (context: PlayerContext, event: PlayerEvent, where: Where): PlayerContext => {
    if (event === lastEvent && context === lastFrom) return lastTo!;
    const to = reduce(context, event, where);
    lastEvent = event;
    lastFrom = context;
    lastTo = to;
    return to;
  };

  const machine = setup({
    types: {
      context: {} as PlayerContext,
      events: {} as PlayerEvent,
      input: {} as PlayerInput,
      emitted: {} as PlayerEmitted,
    },
    delays: {
      // Pure functions of the context: `reduce` turned the absolute deadline into a duration.
      wait: ({ context }) => context.delayMs,
    },
    guards: {
      goesTo: ({ context, event }, params: { where: Where; to: Next }) => reduced(context, event, params.where).next === params.to,
      mustVerify: ({ context }) => context.unverified && context.desired !== null,
    },
    actions: {
      apply: assign(({ context, event }, params: { where: Where }) => reduced(context, event, params.where)),
      keepAliveDue: assign({ keepAliveDue: true }),
      state: emit(({ context }, params: { state: PlayerState }) => emitted.state(context, params.state)),
      paced: emit(({ context }, params: { paced: boolean }) => emitted.paced(context, params.paced)),
      send: emit(({ context }) => emitted.send(context)),
      verify: emit(({ context }) => emitted.verify(context)),
      synced: emit(({ context, event }) => emitted.synced(context, event)),
    },
  });

  /** The transitions of one state: every event goes through `reduce`, then to its target. */
  // 'stay' first: most events (a count change while a write is queued) change only the context.
  const decide = (where: Where, withSynced = false) => [
    { guard: { type: 'goesTo' as const, params: { where, to: 'stay' as Next } }, actions: [{ type: 'apply' as const, params: { where } }] },
    ...TARGETS.map((to) => ({
      guard: { type: 'goesTo' as const, params: { where, to: to as Next } },
      target: `#player.${to}`,
      reenter: true,
      actions: [...(withSynced ? [{ type: 'synced' as const }] : []), { type: 'apply' as const, params: { where } }],
    })),
  ];

  const external = (where: Where) => ({ DESIRE: decide(where), FLUSH: decide(where) });
  const answers = (where: Where) => ({
    WAIT: decide(where),
    SKIPPED: decide(where),
    SENT: decide(where, true),
    FAILED: decide(where),
    VERIFIED: decide(where),
    VERIFY_FAILED: decide(where),
  });

  return machine.createMachine({
    id: 'player',
    context: ({ input }) => initialContext(input),
    initial: 'idle',
    states: {
      idle: {
        tags: 'settled',
        entry: { type: 'state', params: { state: 'idle' } },
        on: external('idle'),
      },
      active: {
        tags: 'settled',
        entry: { type: 'state', params: { state: 'active' } },
        on: { ...external('active'), KEEPALIVE: { target: 'updating.sending', actions: 'keepAliveDue' } },
      },
      updating: {
        entry: { type: 'state', params: { state: 'updating' } },
        initial: 'sending',
        states: {
          pacing: {
            entry: { type: 'paced', params: { paced: true } },
            exit: { type: 'paced', params: { paced: false } },
            after: { wait: 'sending' },
            on: external('updating.pacing'),
          },
          waiting: { after: { wait: 'sending' }, on: external('updating.waiting') },
          sending: { entry: 'send', on: { ...external('updating.sending'), ...answers('updating.sending') } },
          verifying: { entry: 'verify', on: { ...external('updating.verifying'), ...answers('updating.verifying') } },
          backingOff: {
            after: { wait: [{ guard: 'mustVerify', target: 'verifying' }, { target: 'sending' }] },
            on: external('updating.backingOff'),
          },
        },
      },
      leaving: {
        entry: { type: 'state', params: { state: 'leaving' } },
        initial: 'sending',
        states: {
          waiting: { after: { wait: 'sending' }, on: external('leaving.waiting') },
          sending: { entry: 'send', on: { ...external('leaving.sending'), ...answers('leaving.sending') } },
          verifying: { entry: 'verify', on: { ...external('leaving.verifying'), ...answers('leaving.verifying') } },
          backingOff: { after: { wait: 'sending' }, on: external('leaving.backingOff') },
        },
      },
      gone: {
        type: 'final',
        tags: 'settled',
        entry: { type: 'state', params: { state: 'gone' } },
      },
    },
  });
}

/** The chart's type. */
export type PlayerMachine = ReturnType<typeof createPlayerMachine>;
