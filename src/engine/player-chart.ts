/**
 * One player's activity on the service, as an XState v5 statechart: the specification of what
 * the engine does for a player. Every routing decision is a named guard, every wait a named
 * delay, every change of the context a named action; the chart performs no I/O. It emits
 * `send`, and the player's session (player-session.ts) answers with events.
 *
 * ```
 *            DESIRE                       deciding (transient, top level)
 *   idle ───────────▶ deciding ──▶ gone | leaving | idle | active | updating
 *   active ──KEEPALIVE / DESIRE──▶ deciding
 *
 *   updating:  deciding ─▶ backingOff ─(retryDelay)─▶ #deciding
 *                       ─▶ waiting ─(budgetDelay)─▶ queued
 *                       ─▶ pacing ─(pace) / FLUSH─▶ queued
 *                       ─▶ queued ─STARTED─▶ inFlight ─SENT / FAILED─▶ #deciding | backingOff
 *   leaving:   deciding ─▶ backingOff | waiting | queued ─STARTED─▶ inFlight ─SENT / FAILED─▶ #deciding
 * ```
 *
 * `idle`, `active` and `gone` are tagged `settled`: nothing to send. A request is under way only
 * in `inFlight`; a change arriving then is recorded and decided on when the answer comes. Every
 * attempt leaves with a sequence number above the last one sent, so an attempt that failed but
 * landed is simply overwritten by the next: a stale answer always means a newer writer. Waits are absolute deadlines in the context (`retryAt`, `waitAt`,
 * `wrongSince`), so re-entering a state never restarts a wait from zero.
 */
import { assign, emit, setup } from 'xstate';
import type { RetryDecision } from './retry-policy.js';
import { changeKind, PRIORITY, sameContent, type ActivityContent, type Priority, type SendReason } from './desired.js';

/** A write the session sends for a player, read from the context when the request leaves. */
export interface WriteRequest {
  method: 'PUT' | 'DELETE';
  groupId: string;
  /** The content of a PUT; null for a DELETE. */
  activity: ActivityContent | null;
  reason: SendReason;
  /** Whether the write changes what a friend can do: the activity appears or goes, the match fills or frees a seat, the settings change. */
  joinability: boolean;
}

/** What the chart remembers about a player. */
export interface PlayerContext {
  readonly xuid: string;
  readonly countRefreshIntervalMs: number;
  /** Group of the newest desired state. */
  groupId: string;
  /** What the game server wants on the service; null: nothing (the player left). */
  desired: ActivityContent | null;
  /** Wall-clock ms of the newest change: a PUT's sequence number says when its change happened. */
  changedAt: number;
  /** Nothing of this player was accepted yet since they joined: the next PUT is a join. */
  joining: boolean;
  /** What the service holds from us (the last accepted PUT); null: nothing of ours. */
  published: ActivityContent | null;
  /** Monotonic ms since when the published state differs from the desired one. */
  wrongSince: number | undefined;
  /** Monotonic ms the request under way left at, and the first change after it. */
  startedAt: number | undefined;
  changedAfterStart: number | undefined;
  /** The service may hold an activity we wrote (accepted, or possibly landed). */
  mayHold: boolean;
  /** A newer writer (another server, the player's console) owns the activity. */
  superseded: boolean;
  /** The last write was refused for good: rest until the next change. */
  abandoned: boolean;
  /** The keep-alive came: rewrite the published state although nothing changed. */
  keepAliveDue: boolean;
  /** A flush wants a paced change sent now. */
  flushing: boolean;
  /** Failed attempts of the current write. */
  attempt: number;
  /** Monotonic deadlines: the retry policy's wait, and the budget's. */
  retryAt: number;
  waitAt: number;
  /** The priority the budget answered `waitAt` for: a more urgent change asks again. */
  waitPriority: Priority;
}

/** Events the session sends to the chart. */
export type PlayerEvent =
  /** The desired state changed (`activity` null: the player left). `at` is the change's wall-clock ms. */
  | { type: 'DESIRE'; groupId: string; activity: ActivityContent | null; reason: SendReason; at: number }
  /** Send a paced change now. */
  | { type: 'FLUSH' }
  /** Nothing was written for `keepAliveMs`: write the activity again before the service forgets it. */
  | { type: 'KEEPALIVE' }
  /** The budget holds this player's request for `ms`. */
  | { type: 'WAIT'; ms: number }
  /** The request leaves now (it reads the newest desired state). */
  | { type: 'STARTED' }
  /** When the request could leave, nothing needed sending any more. */
  | { type: 'SKIPPED' }
  | { type: 'SENT'; request: WriteRequest; sequenceNumber: bigint }
  | { type: 'FAILED'; request: WriteRequest; decision: RetryDecision };

/** Top-level states, as reported by `playerState()` and the `state` event. */
export type PlayerState = 'idle' | 'active' | 'updating' | 'leaving' | 'gone';

/** Events the chart emits to its session. */
export type PlayerEmitted =
  | { type: 'state'; state: PlayerState }
  | { type: 'send'; priority: Priority }
  | { type: 'synced'; groupId: string; method: 'PUT' | 'DELETE'; sequenceNumber: bigint; stalenessMs: number }
  | { type: 'superseded'; groupId: string; method: 'PUT' | 'DELETE' };

/** Input of a player's chart. */
export interface PlayerInput {
  xuid: string;
  groupId: string;
  countRefreshIntervalMs: number;
}

/** What the chart needs from outside: the monotonic clock its deadlines are on. */
export interface ChartDeps {
  now: () => number;
}

/** The priority of the next write: a leave, a change a friend can act on, a count or keep-alive. */
export function priorityOf(c: Pick<PlayerContext, 'desired' | 'published' | 'superseded'>): Priority {
  if (c.desired === null) return PRIORITY.leave;
  return changeKind(c.superseded ? null : c.published, c.desired) === 'joinability' ? PRIORITY.settings : PRIORITY.count;
}

/**
 * The write to send now, read when the request leaves (so a request that waited in the queue
 * carries the newest state), or null when nothing needs sending any more.
 */
export function requestFor(c: PlayerContext): WriteRequest | null {
  if (c.desired === null) {
    if (!c.mayHold || c.superseded) return null;
    return { method: 'DELETE', groupId: c.groupId, activity: null, reason: 'leave', joinability: true };
  }
  const kind = changeKind(c.published, c.desired);
  if (kind === 'none') return c.keepAliveDue ? { method: 'PUT', groupId: c.groupId, activity: c.desired, reason: 'keepalive', joinability: false } : null;
  const reason: SendReason = c.joining || c.published === null ? 'join' : countOnly(c.published, c.desired) ? 'count' : 'settings';
  return { method: 'PUT', groupId: c.groupId, activity: c.desired, reason, joinability: kind === 'joinability' };
}

/** Only the player count differs (whether or not it crosses full). */
function countOnly(a: ActivityContent, b: ActivityContent): boolean {
  return sameContent(a, { ...b, currentPlayers: a.currentPlayers });
}

/** A player's context on entering the chart: nothing wanted, nothing published. */
export function initialContext(input: PlayerInput): PlayerContext {
  return {
    xuid: input.xuid,
    countRefreshIntervalMs: input.countRefreshIntervalMs,
    groupId: input.groupId,
    desired: null,
    changedAt: 0,
    joining: true,
    published: null,
    wrongSince: undefined,
    startedAt: undefined,
    changedAfterStart: undefined,
    mayHold: false,
    superseded: false,
    abandoned: false,
    keepAliveDue: false,
    flushing: false,
    attempt: 0,
    retryAt: 0,
    waitAt: 0,
    waitPriority: PRIORITY.count,
  };
}

type Desire = Extract<PlayerEvent, { type: 'DESIRE' }>;
type Failed = Extract<PlayerEvent, { type: 'FAILED' }>;

/** Builds the chart. One machine serves every player of an engine. */
export function createPlayerMachine({ now }: ChartDeps) {
  const machine = setup({
    types: {
      context: {} as PlayerContext,
      events: {} as PlayerEvent,
      input: {} as PlayerInput,
      emitted: {} as PlayerEmitted,
    },
    guards: {
      /** The player left. */
      isLeave: ({ context }) => context.desired === null,
      /** The player left and nothing of ours can be on the service (or a DELETE was refused for good). */
      nothingToDelete: ({ context }) => context.desired === null && (!context.mayHold || context.superseded || context.abandoned),
      /** A newer writer owns the activity: rest until the next change. */
      isSuperseded: ({ context }) => context.superseded,
      /** The last write was refused for good: rest until the next change. */
      isAbandoned: ({ context }) => context.abandoned,
      /** The service holds what the game server wants (and no keep-alive is due). */
      isPublished: ({ context }) => context.published !== null && !context.keepAliveDue && sameContent(context.published, context.desired),
      /** Something of ours is on the service. */
      hasPublished: ({ context }) => context.published !== null,
      /** The change leaves the desired state as the service already holds it. */
      changesNothing: ({ context, event }) => {
        const e = event as Desire;
        return e.activity !== null && e.reason !== 'join' && sameContent(e.activity, context.desired);
      },
      /** The change is a leave, or matters more to friends than the write already queued. */
      isMoreUrgent: ({ context, event }) => {
        const e = event as Desire;
        return priorityOf({ ...context, desired: e.activity }) < priorityOf(context);
      },
      /** The change alters what a friend can do, or undoes the pending change: decide again. */
      changesJoinability: ({ context, event }) => {
        const e = event as Desire;
        const published = context.superseded ? null : context.published;
        return e.activity === null || changeKind(published, e.activity) !== 'count';
      },
      /** The retry policy's wait has not passed. */
      isBackingOff: ({ context }) => context.retryAt > now(),
      /** The budget held a request at least as urgent as this one, and its wait has not passed. */
      budgetHeld: ({ context }) => context.waitAt > now() && priorityOf(context) >= context.waitPriority,
      /** Only the count moved (not across full), it has been wrong for less than the pacing, and no flush asks for it. */
      shouldPace: ({ context }) =>
        !context.flushing && !context.keepAliveDue && changeKind(context.published, context.desired) === 'count' && (context.wrongSince ?? now()) + context.countRefreshIntervalMs > now(),
      /** The failure: someone wrote a newer sequence number. */
      failedSuperseded: ({ event }) => (event as Failed).decision.kind === 'superseded',
      /** The retry policy says to try again. */
      canRetry: ({ event }) => (event as Failed).decision.kind === 'retry',
    },
    delays: {
      /** A count change waits until it has been wrong for `countRefreshIntervalMs`. */
      pace: ({ context }) => Math.max(0, (context.wrongSince ?? now()) + context.countRefreshIntervalMs - now()),
      /** Until the budget frees a write. */
      budgetDelay: ({ context }) => Math.max(0, context.waitAt - now()),
      /** Until the retry policy's wait has passed. */
      retryDelay: ({ context }) => Math.max(0, context.retryAt - now()),
    },
    actions: {
      /** Records the newest desired state. */
      desire: assign(({ context, event }) => {
        const e = event as Desire;
        const wrongNow = e.activity === null ? context.mayHold : !sameContent(context.published, e.activity);
        const wasWrong = context.wrongSince !== undefined;
        return {
          groupId: e.groupId,
          desired: e.activity,
          changedAt: e.at,
          joining: e.reason === 'join' ? true : context.joining,
          // A superseded player stays so until a real change: a join, or content of its own.
          superseded: context.superseded && e.activity !== null && sameContent(e.activity, context.desired) && e.reason !== 'join',
          abandoned: false,
          wrongSince: !wrongNow ? undefined : wasWrong ? context.wrongSince : now(),
          changedAfterStart: context.startedAt !== undefined ? (context.changedAfterStart ?? now()) : undefined,
        };
      }),
      flushing: assign({ flushing: true }),
      keepAliveDue: assign({ keepAliveDue: true }),
      holdForBudget: assign(({ context, event }) => ({ waitAt: now() + (event as Extract<PlayerEvent, { type: 'WAIT' }>).ms, waitPriority: priorityOf(context) })),
      started: assign({ startedAt: () => now(), changedAfterStart: undefined }),
      /** The service accepted the write: it holds the request's content now. */
      published: assign(({ context, event }) => {
        const r = (event as Extract<PlayerEvent, { type: 'SENT' }>).request;
        const stillWrong = r.activity === null ? context.desired !== null : !sameContent(r.activity, context.desired);
        return {
          published: r.activity,
          mayHold: r.method === 'PUT',
          joining: r.method === 'PUT' ? false : context.joining,
          superseded: false,
          attempt: 0,
          keepAliveDue: false,
          flushing: false,
          wrongSince: stillWrong ? (context.changedAfterStart ?? now()) : undefined,
          startedAt: undefined,
          changedAfterStart: undefined,
        };
      }),
      /** A newer writer owns the activity: never retried, no keep-alive, no DELETE on leave. */
      superseded: assign({ superseded: true, published: null, mayHold: false, attempt: 0, keepAliveDue: false, startedAt: undefined }),
      scheduleRetry: assign(({ context, event }) => {
        const { decision, request } = event as Failed;
        const d = decision as Extract<RetryDecision, { kind: 'retry' }>;
        return {
          retryAt: now() + d.delayMs,
          attempt: context.attempt + 1,
          mayHold: context.mayHold || (d.ambiguous && request.method === 'PUT'),
          startedAt: undefined,
        };
      }),
      abandon: assign(({ context, event }) => {
        const { decision, request } = event as Failed;
        const ambiguous = decision.kind === 'give-up' && decision.ambiguous;
        return { abandoned: true, attempt: 0, keepAliveDue: false, startedAt: undefined, mayHold: context.mayHold || (ambiguous && request.method === 'PUT') };
      }),
      state: emit((_, params: { state: PlayerState }) => ({ type: 'state' as const, state: params.state })),
      send: emit(({ context }) => ({ type: 'send' as const, priority: priorityOf(context) })),
      /** Before `published`: the staleness is measured from the context the write fixed. */
      synced: emit(({ context, event }) => {
        const { request, sequenceNumber } = event as Extract<PlayerEvent, { type: 'SENT' }>;
        return { type: 'synced' as const, groupId: request.groupId, method: request.method, sequenceNumber, stalenessMs: Math.max(0, now() - (context.wrongSince ?? now())) };
      }),
      reportSuperseded: emit(({ context, event }) => {
        const request = event.type === 'FAILED' ? event.request : undefined;
        return { type: 'superseded' as const, groupId: request?.groupId ?? context.groupId, method: request?.method ?? 'PUT' };
      }),
    },
  });

  /** A change while nothing is under way: record it, then decide again from the top. */
  const redecide = { target: '#player.deciding', reenter: true, actions: 'desire' } as const;
  /** A request on the wire, PUT or DELETE: the answer decides; a change meanwhile is recorded for then. */
  const inFlight = {
    on: {
      SENT: { target: '#player.deciding', actions: ['synced', 'published'] },
      FAILED: [
        { guard: 'failedSuperseded', target: '#player.deciding', actions: ['superseded', 'reportSuperseded'] },
        { guard: 'canRetry', target: 'backingOff', actions: 'scheduleRetry' },
        { target: '#player.deciding', actions: 'abandon' },
      ],
      DESIRE: { actions: 'desire' },
    },
  } as const;

  return machine.createMachine({
    id: 'player',
    context: ({ input }) => initialContext(input),
    initial: 'idle',
    states: {
      /** Where a player goes when nothing is under way. */
      deciding: {
        always: [
          { guard: 'nothingToDelete', target: 'gone' },
          { guard: 'isLeave', target: 'leaving' },
          { guard: 'isSuperseded', target: 'idle' },
          { guard: 'isAbandoned', target: 'rest' },
          { guard: 'isPublished', target: 'active' },
          { target: 'updating' },
        ],
      },
      /** A write refused for good: rest as the service stands. */
      rest: {
        always: [{ guard: 'hasPublished', target: 'active' }, { target: 'idle' }],
      },
      /** Nothing of ours on the service, nothing to send. */
      idle: {
        tags: 'settled',
        entry: { type: 'state', params: { state: 'idle' } },
        on: {
          DESIRE: [{ guard: 'changesNothing', actions: 'desire' }, redecide],
        },
      },
      /** The service holds the desired state. */
      active: {
        tags: 'settled',
        entry: { type: 'state', params: { state: 'active' } },
        on: {
          DESIRE: redecide,
          KEEPALIVE: { target: 'updating', actions: 'keepAliveDue' },
        },
      },
      /** A PUT is wanted or under way. */
      updating: {
        entry: { type: 'state', params: { state: 'updating' } },
        initial: 'deciding',
        states: {
          deciding: {
            always: [
              { guard: 'isBackingOff', target: 'backingOff' },
              { guard: 'budgetHeld', target: 'waiting' },
              { guard: 'shouldPace', target: 'pacing' },
              { target: 'queued' },
            ],
          },
          pacing: {
            tags: 'paced',
            after: { pace: 'queued' },
            on: {
              FLUSH: { target: 'queued', actions: 'flushing' },
              DESIRE: [{ guard: 'changesJoinability', ...redecide }, { actions: 'desire' }],
            },
          },
          waiting: {
            after: { budgetDelay: 'queued' },
            on: { DESIRE: [{ guard: 'isMoreUrgent', ...redecide }, { actions: 'desire' }] },
          },
          backingOff: {
            after: { retryDelay: '#player.deciding' },
            on: { DESIRE: { actions: 'desire' } },
          },
          queued: {
            tags: 'queued',
            entry: 'send',
            on: {
              WAIT: { target: 'waiting', actions: 'holdForBudget' },
              STARTED: { target: 'inFlight', actions: 'started' },
              SKIPPED: '#player.deciding',
              // The queued request reads the newest state when it leaves; a more urgent change queues again at its priority.
              DESIRE: [{ guard: 'isMoreUrgent', ...redecide }, { actions: 'desire' }],
            },
          },
          inFlight,
        },
      },
      /** A DELETE is wanted or under way. */
      leaving: {
        entry: { type: 'state', params: { state: 'leaving' } },
        initial: 'deciding',
        states: {
          deciding: {
            always: [
              { guard: 'isBackingOff', target: 'backingOff' },
              { guard: 'budgetHeld', target: 'waiting' },
              { target: 'queued' },
            ],
          },
          waiting: { after: { budgetDelay: 'queued' }, on: { DESIRE: redecide } },
          backingOff: { after: { retryDelay: '#player.deciding' }, on: { DESIRE: { actions: 'desire' } } },
          queued: {
            tags: 'queued',
            entry: 'send',
            on: {
              WAIT: { target: 'waiting', actions: 'holdForBudget' },
              STARTED: { target: 'inFlight', actions: 'started' },
              SKIPPED: '#player.deciding',
              DESIRE: redecide,
            },
          },
          inFlight,
        },
      },
      /** The player left and nothing of ours remains (or a newer writer owns the activity). */
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
