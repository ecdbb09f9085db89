/**
 * One player's activity on the service, as an XState machine:
 *
 * ```
 *            DESIRE                 slot granted               2xx / superseded
 *   idle ───────────▶ queued ─────────────────────▶ sending ─────────────────────▶ active
 *    ▲                 ▲  │ leave before anything      │ failure                    │ │
 *    │                 │  │ reached the service        ▼                            │ │ keep-alive
 *    │                 │  └──────────▶ idle         backoff ── delay ──▶ queued     │ │ or DESIRE
 *    │                 └──────────────────────────────────────────────────────────┘ │
 *    └──────────────────────────── DELETE done, nothing pending ◀──────────────────┘
 * ```
 *
 * At most one request is in flight (`sending`) and at most one desired state waits
 * (`pending`): a newer one replaces it, so whatever is sent next is always the newest.
 * The "updating" and "leaving" are `sending` with a PUT or a DELETE in flight.
 */
import { assign, fromPromise, setup } from 'xstate';
import { MpaError, MpaRequestRejectedError, MpaThrottledError, MpaTransportError } from '../errors.js';
import type { ActivityFields } from '../schemas.js';
import type { Lease, Priority } from './scheduler.js';

/** Why a request was sent. */
export type SendReason = 'join' | 'settings' | 'count' | 'keepalive' | 'leave';

/** A state the player should have on the service, stamped when the change happened. */
export type Desired =
  | { method: 'PUT'; groupId: string; activity: Omit<ActivityFields, 'sequenceNumber'>; sequenceNumber: bigint; priority: Priority; reason: SendReason }
  | { method: 'DELETE'; groupId: string; sequenceNumber: bigint; priority: Priority; reason: 'leave' };

/** What a failure means for the player. */
export type FailureKind = 'superseded' | 'permanent' | 'throttled' | 'retry';

/** The engine services a player machine calls. */
export interface PlayerServices {
  /** Waits for a write slot for this player. */
  acquire(xuid: string, priority: Priority, signal: AbortSignal): Promise<Lease>;
  /** Sends `desired` under `lease`. */
  send(xuid: string, desired: Desired, lease: Lease, attempt: number, signal: AbortSignal): Promise<void>;
  /** Delay before the next attempt after `error` (also blocks the budget for Retry-After). */
  retryDelay(xuid: string, desired: Desired, error: unknown, attempt: number): number;
  /** A fresh sequence number for a keep-alive write. */
  stamp(xuid: string): bigint;
  /** Reports the outcome of one request to the engine's counters and events. */
  settled(xuid: string, desired: Desired, outcome: 'ok' | FailureKind, error?: unknown): void;
  /** Called when a pending state replaces another that was never sent. */
  coalesced(xuid: string): void;
  keepAliveMs: number;
}

export interface PlayerContext {
  xuid: string;
  pending: Desired | null;
  inFlight: Desired | null;
  /** The last state the service accepted from us. */
  published: Desired | null;
  lease: Lease | null;
  /** Whether the service may hold an activity we wrote (a PUT that may have landed). */
  mayHold: boolean;
  /** Consecutive failures. */
  attempt: number;
  retryDelayMs: number;
  /** Our last PUT was refused as stale: someone newer owns the activity, so no keep-alive. */
  superseded: boolean;
}

export type PlayerEvent = { type: 'DESIRE'; desired: Desired };

/** Classifies a failed request. */
export function classifyFailure(error: unknown): FailureKind {
  if (error instanceof MpaRequestRejectedError && error.superseded) return 'superseded';
  if (error instanceof MpaThrottledError && error.retryAfterMs !== undefined) return 'throttled';
  if (error instanceof MpaError && !error.retryable && !(error instanceof MpaTransportError && error.reason === 'aborted')) return 'permanent';
  return 'retry';
}

/** Whether a failed request may still have reached the service and taken effect. */
function ambiguous(error: unknown): boolean {
  if (!(error instanceof MpaError)) return true;
  return error.code === 'SERVER' || error.code === 'TRANSPORT';
}

/** Builds the machine with the engine's services. One machine serves every player of an engine. */
export function createPlayerMachine(services: PlayerServices) {
  return setup({
    types: {
      context: {} as PlayerContext,
      events: {} as PlayerEvent,
      input: {} as { xuid: string },
    },
    actors: {
      acquire: fromPromise<Lease, { xuid: string; priority: Priority }>(({ input, signal }) => services.acquire(input.xuid, input.priority, signal)),
      send: fromPromise<void, { xuid: string; desired: Desired; lease: Lease; attempt: number }>(({ input, signal }) =>
        services.send(input.xuid, input.desired, input.lease, input.attempt, signal),
      ),
    },
    delays: {
      retryDelay: ({ context }) => context.retryDelayMs,
      keepAlive: () => services.keepAliveMs,
    },
    guards: {
      hasPending: ({ context }) => context.pending !== null,
      // A leave for a player whose join never reached the service needs no request at all, and
      // one whose activity a newer writer (another server) took over must not erase it.
      leaveWithNothingPublished: ({ context, event }) => event.desired.method === 'DELETE' && (!context.mayHold || context.superseded),
      // Once another writer took the activity over, only a new join here writes it again.
      ownedElsewhere: ({ context, event }) => context.superseded && event.desired.reason !== 'join',
      pendingOwnedElsewhere: ({ context }) => context.superseded && context.pending !== null && context.pending.reason !== 'join',
      moreUrgent: ({ context, event }) => context.pending === null || event.desired.priority < context.pending.priority,
      keepAliveWanted: ({ context }) => context.published?.method === 'PUT' && !context.superseded,
      inFlightWasDelete: ({ context }) => context.inFlight?.method === 'DELETE',
      failedFor: ({ event }, kind: FailureKind) => classifyFailure((event as unknown as { error: unknown }).error) === kind,
    },
    actions: {
      setPending: assign(({ context, event }) => {
        if (context.pending) services.coalesced(context.xuid);
        // Coalesced changes keep the most urgent reason among them.
        const priority = Math.min(event.desired.priority, context.pending?.priority ?? event.desired.priority) as Priority;
        // A join folded into a later refresh is still, for the logs, the player's join.
        const reason = context.pending?.reason === 'join' && event.desired.method === 'PUT' ? 'join' : event.desired.reason;
        return { pending: { ...event.desired, priority, reason } as Desired };
      }),
      dropPending: assign(({ context }) => {
        if (context.pending) services.coalesced(context.xuid);
        return { pending: null, attempt: 0 };
      }),
      takePending: assign(({ context, event }) => ({
        inFlight: context.pending,
        pending: null,
        lease: (event as unknown as { output: Lease }).output,
      })),
      keepAlive: assign(({ context }) => {
        const published = context.published;
        if (published?.method !== 'PUT') return {};
        return { pending: { ...published, sequenceNumber: services.stamp(context.xuid), priority: 2, reason: 'keepalive' } as Desired };
      }),
      succeeded: assign(({ context }) => {
        const done = context.inFlight!;
        services.settled(context.xuid, done, 'ok');
        return { published: done, inFlight: null, lease: null, attempt: 0, mayHold: done.method === 'PUT', superseded: false };
      }),
      superseded: assign(({ context, event }) => {
        const done = context.inFlight!;
        services.settled(context.xuid, done, 'superseded', (event as unknown as { error: unknown }).error);
        return { published: done, inFlight: null, lease: null, attempt: 0, mayHold: done.method === 'PUT', superseded: true };
      }),
      gaveUp: assign(({ context, event }) => {
        const error = (event as unknown as { error: unknown }).error;
        services.settled(context.xuid, context.inFlight!, 'permanent', error);
        return { inFlight: null, lease: null, attempt: 0 };
      }),
      scheduleRetry: assign(({ context, event }) => {
        const error = (event as unknown as { error: unknown }).error;
        const failed = context.inFlight!;
        const kind = classifyFailure(error);
        services.settled(context.xuid, failed, kind, error);
        return {
          // Retry the newest state, not necessarily the one that was refused.
          pending: context.pending ?? failed,
          inFlight: null,
          lease: null,
          mayHold: context.mayHold || (failed.method === 'PUT' && ambiguous(error)),
          retryDelayMs: services.retryDelay(context.xuid, failed, error, context.attempt),
          attempt: context.attempt + 1,
        };
      }),
    },
  }).createMachine({
    id: 'player',
    context: ({ input }) => ({
      xuid: input.xuid,
      pending: null,
      inFlight: null,
      published: null,
      lease: null,
      mayHold: false,
      attempt: 0,
      retryDelayMs: 0,
      superseded: false,
    }),
    initial: 'idle',
    states: {
      idle: {
        on: {
          DESIRE: [{ guard: 'leaveWithNothingPublished' }, { guard: 'ownedElsewhere' }, { target: 'queued', actions: 'setPending' }],
        },
      },
      queued: {
        invoke: {
          src: 'acquire',
          input: ({ context }) => ({ xuid: context.xuid, priority: context.pending!.priority }),
          onDone: { target: 'sending', actions: 'takePending' },
        },
        on: {
          DESIRE: [
            { guard: 'leaveWithNothingPublished', target: 'idle', actions: 'dropPending' },
            // A more urgent change (a leave behind a count refresh) asks for its slot again.
            { guard: 'moreUrgent', target: 'queued', reenter: true, actions: 'setPending' },
            { actions: 'setPending' },
          ],
        },
      },
      sending: {
        invoke: {
          src: 'send',
          input: ({ context }) => ({ xuid: context.xuid, desired: context.inFlight!, lease: context.lease!, attempt: context.attempt }),
          onDone: [
            { guard: 'hasPending', target: 'queued', actions: 'succeeded' },
            { guard: 'inFlightWasDelete', target: 'idle', actions: 'succeeded' },
            { target: 'active', actions: 'succeeded' },
          ],
          onError: [
            { guard: { type: 'failedFor', params: 'superseded' }, target: 'settle', actions: 'superseded' },
            { guard: { type: 'failedFor', params: 'permanent' }, target: 'settle', actions: 'gaveUp' },
            { target: 'backoff', actions: 'scheduleRetry' },
          ],
        },
        on: { DESIRE: { actions: 'setPending' } },
      },
      // Routes to the right resting state once a request is over without a retry.
      settle: {
        always: [
          { guard: 'pendingOwnedElsewhere', target: 'idle', actions: 'dropPending' },
          { guard: 'hasPending', target: 'queued' },
          { guard: 'keepAliveWanted', target: 'active' },
          { target: 'idle' },
        ],
      },
      backoff: {
        after: { retryDelay: 'queued' },
        on: {
          DESIRE: [{ guard: 'leaveWithNothingPublished', target: 'idle', actions: 'dropPending' }, { actions: 'setPending' }],
        },
      },
      active: {
        after: { keepAlive: { guard: 'keepAliveWanted', target: 'queued', actions: 'keepAlive' } },
        on: { DESIRE: { target: 'queued', actions: 'setPending' } },
      },
    },
  });
}

export type PlayerMachine = ReturnType<typeof createPlayerMachine>;
