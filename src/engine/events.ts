/**
 * Events and counters of {@link ActivitySync}. No event carries a token.
 */
import type { MpaError } from '../errors.js';
import type { SendReason } from './desired.js';

/** Fields every per-player event carries. */
export interface PlayerEventBase {
  xuid: string;
  groupId: string;
}

/** One HTTP request finished (any outcome). */
export interface RequestEvent extends PlayerEventBase {
  method: 'PUT' | 'DELETE' | 'POST';
  /** HTTP status, or 0 when no answer came (network error, timeout). */
  status: number;
  latencyMs: number;
  /** 0 for the first attempt at this state, 1 for the first retry... */
  attempt: number;
  /**
   * What the write changed: `join` (the activity appears), `settings` (connection string, join
   * restriction, max players, platform), `count` (only the player count), `keepalive` (nothing:
   * a rewrite before the service forgets it), `leave`; or `invite`, `recentPlayers`.
   */
  reason: SendReason | 'invite' | 'recentPlayers';
  /**
   * Whether the write changes what a friend can do: the activity appears or goes, the match
   * fills or frees a seat, or a setting changes. A count that moves within the room is false.
   */
  joinability?: boolean;
  sequenceNumber: string;
  /** The error's code when it failed. */
  error?: MpaError['code'];
}

/** The service said to wait (429, or 503 with Retry-After). */
export interface ThrottledEvent extends PlayerEventBase {
  /** POST for invites and recent players. */
  method: 'PUT' | 'DELETE' | 'POST';
  retryAfterMs: number;
  /** `user`: only this player waits; `all`: the throttle was not per user, everyone waits. */
  scope: 'user' | 'all';
}

/** A request will be tried again. */
export interface RetryEvent extends PlayerEventBase {
  method: 'PUT' | 'DELETE' | 'POST';
  /** The attempt that comes next (1 = first retry). */
  attempt: number;
  delayMs: number;
  cause: MpaError['code'] | 'UNKNOWN';
  /** The failure's message (never a token or key). */
  message: string;
}

/** What {@link MatchGroup.invite} resolves with. */
export interface InviteResult {
  /** Users the service accepted an invite for. */
  sent: string[];
  /** Users not invited, each with the reason (a bad xuid, a 400, or retries exhausted). */
  refused: { xuid: string; error: MpaError }[];
}

/** What {@link MatchGroup.reportRecentPlayers} resolves with. */
export interface RecentPlayersResult {
  /** Recent-player groups the service accepted. */
  reported: number;
  /** Groups not reported, with the reason. */
  refused: { players: string[]; error: MpaError }[];
}

/** A player's state was accepted by the service. */
export interface SyncedEvent extends PlayerEventBase {
  method: 'PUT' | 'DELETE';
  sequenceNumber: string;
  /**
   * Milliseconds between the published state first differing from the desired one and the
   * service accepting this write (monotonic clock). 0 for a keep-alive.
   */
  stalenessMs: number;
}

/**
 * Something needs attention: a request refused for good (400), an outage (requests failing in
 * a row past `errorAfterFailures`, or an authorization failure: once per outage, with
 * `failures`; the engine keeps retrying), or a bad event given to a binding.
 */
export interface ErrorEvent {
  xuid?: string | undefined;
  groupId?: string | undefined;
  method?: 'PUT' | 'DELETE' | 'POST' | undefined;
  error: MpaError;
  /** Set when the event reports an outage: failed requests in a row so far. */
  failures?: number | undefined;
}

/** Requests succeed again after an outage that an `error` event reported. */
export interface RecoveredEvent {
  /** Failed requests in a row before this success. */
  failures: number;
  /** From the first of them to this success (monotonic clock). */
  durationMs: number;
}

/**
 * A newer writer (another server after a handoff, the player's console) holds the activity:
 * the write was refused as stale and is never resent with the same number. The player rests
 * until the next change.
 */
export interface SupersededEvent extends PlayerEventBase {
  method: 'PUT' | 'DELETE';
}

/** A player's machine changed state. */
export interface StateEvent extends PlayerEventBase {
  state: PlayerStateName;
  previous: PlayerStateName;
}

/**
 * The top-level states of a player's chart: `idle` (nothing of ours on the service, nothing to
 * send), `active` (the service holds the desired state), `updating` (a PUT wanted or in
 * flight), `leaving` (a DELETE wanted or in flight), `gone` (final: the player left and nothing
 * of ours remains, or a newer writer owns the activity).
 */
export type PlayerStateName = 'idle' | 'active' | 'updating' | 'leaving' | 'gone';

/** A listener of another event threw. The engine went on as if it had not. */
export interface ListenerErrorEvent {
  /** The event whose listener threw. */
  event: Exclude<keyof SyncEvents, 'listenerError'>;
  error: unknown;
}

/** Event names and listener signatures of {@link ActivitySync}. */
export interface SyncEvents {
  request: (event: RequestEvent) => void;
  throttled: (event: ThrottledEvent) => void;
  retry: (event: RetryEvent) => void;
  synced: (event: SyncedEvent) => void;
  error: (event: ErrorEvent) => void;
  recovered: (event: RecoveredEvent) => void;
  superseded: (event: SupersededEvent) => void;
  state: (event: StateEvent) => void;
  listenerError: (event: ListenerErrorEvent) => void;
}

/**
 * The payload of one event, by name: `SyncEvent<'request'>` is a {@link RequestEvent}.
 *
 * @example
 * const log = (e: SyncEvent<'retry'>) => console.warn(e.xuid, e.attempt, e.message);
 * sync.on('retry', log);
 */
export type SyncEvent<K extends keyof SyncEvents> = Parameters<SyncEvents[K]>[0];

/** What {@link ActivitySync.stats} returns. */
export interface SyncStats {
  /** Requests by method and HTTP status (`0` = no answer). */
  requests: Record<string, Record<string, number>>;
  /** Desired states replaced before they were sent, and leaves that needed no request. */
  coalesced: number;
  throttled: number;
  retries: number;
  /** Writes refused because a newer sequence number was already there. */
  superseded: number;
  /** Requests refused for good (400) and not retried. */
  failed: number;
  inFlight: number;
  /** Players with a change not yet on the service (updating or leaving, not yet accepted). */
  pending: number;
  players: number;
  groups: number;
  /**
   * Per-user entries the engine still keeps (players, sequence numbers, budget logs): they are
   * released when a player is gone and their budget windows have passed.
   */
  retained: { players: number; sequences: number; budgets: number };
}
