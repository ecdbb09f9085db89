/**
 * Follows one Colyseus room's life and keeps its players' Multiplayer Activity true: joins and
 * leaves, maxClients, lock / unlock, setPrivate, dispose. What the room does is heard through
 * its public Room API (see room-hooks.ts); this module turns it into the group's members and
 * settings.
 */
import { ErrorCode, ServerError, type Client, type Room } from '@colyseus/core';
import type { ActivitySync } from '../engine/activity-sync.js';
import type { GroupUpdate, MatchGroup, RecentPlayersOptions } from '../engine/group.js';
import { MpaError, MpaUsageError, MpaValidationError } from '../errors.js';
import { joinRestrictionSchema, knownKeysOnly, LIMITS, parseInput, xuidSchema, type JoinRestriction, type Platform, type XuidInput } from '../schemas.js';
import { isColyseusRoom, privateAtStart, watchRoom, type RoomWatch } from './room-hooks.js';

/**
 * Where a player's xuid comes from, given what Colyseus knows at `onAuth` time: the client,
 * its join options and its auth data (`client.auth`, or what you pass to `authorize`).
 * Return `undefined` or `null` for a player who is not an Xbox user (cross-play): they are
 * counted in `currentPlayers` but get no activity. Any other value must be a valid xuid.
 */
export type XuidResolver = (client: Client, options: any, auth: any) => XuidInput | null | undefined;

/** Options of {@link publishRoomActivity}. */
export interface RoomActivityOptions {
  /** The process's ActivitySync. */
  sync: ActivitySync;
  /** What a friend's game uses to join this room, e.g. `` `${publicAddress}?roomId=${this.roomId}` ``. 1..512 characters. */
  connectionString: string;
  /** Where the xuid comes from (auth data or join options). See {@link XuidResolver}. */
  xuid: XuidResolver;
  /** Join restriction while the room is open. Default `Followed`. */
  joinRestriction?: JoinRestriction;
  /** Join restriction while the room is locked with `lock()` (a full room is not "locked" here: its count says so). Default `InviteOnly`. */
  whenLocked?: JoinRestriction;
  /** Join restriction while the room is private (`setPrivate()`). Default `InviteOnly`. */
  whenPrivate?: JoinRestriction;
  /** `maxPlayers` to publish. Default: the room's `maxClients`, followed when it changes (must then be 2..100). */
  maxPlayers?: number;
  /** Restrict joining to one platform. Default: every platform of the title. */
  platform?: Platform;
  /** Group id. Default: the room id. */
  groupId?: string;
  /** Report who played with whom when the room is disposed (and on an interval). Default: off. */
  recentPlayers?: RecentPlayersOptions;
}

/** Every key of {@link RoomActivityOptions}, for the check that refuses a misspelt one. */
const ROOM_OPTION_KEYS = ['sync', 'connectionString', 'xuid', 'joinRestriction', 'whenLocked', 'whenPrivate', 'maxPlayers', 'platform', 'groupId', 'recentPlayers'] as const satisfies readonly (keyof RoomActivityOptions)[];
// The list cannot fall behind the interface: this fails to compile when a key is missing.
const EVERY_ROOM_OPTION_LISTED: Exclude<keyof RoomActivityOptions, (typeof ROOM_OPTION_KEYS)[number]> extends never ? true : never = true;
void EVERY_ROOM_OPTION_LISTED;

/** What {@link publishRoomActivity} returns. */
export interface RoomActivity {
  /** The room's group: members, settings, `invite()`, `reportRecentPlayers()`. */
  readonly group: MatchGroup;
  /**
   * Call from your room's `onAuth`: resolves the player's xuid and refuses the join (a Colyseus
   * `ServerError`, code AUTH_FAILED, with a clear message) when it is not a valid xuid.
   * Returns `true`, so `return this.mpa.authorize(client, options)` keeps `client.auth` as it was.
   * Rooms whose xuid comes from `client.auth` alone (a static `onAuth`, @colyseus/auth) may skip it.
   */
  authorize(client: Client, options: unknown, auth?: unknown): true;
  /** The xuid of a session in this room, if it is an Xbox user. */
  xuidOf(sessionId: string): string | undefined;
  /** Resolves when the room was disposed and its group closed (everyone's activity deleted, recent players reported). */
  readonly closed: Promise<void>;
}

/** Sessions authorized but not yet joined, kept at most (seat reservations last seconds). */
const AUTHORIZED_CAP = 1024;

const RESTRICTIVENESS: Record<JoinRestriction, number> = { Public: 0, Followed: 1, InviteOnly: 2 };

/**
 * Publishes a Colyseus room's players' activities. Call once, in the room's `onCreate`.
 * Bad options throw a Colyseus `ServerError` (so the client creating the room gets the message)
 * whose `cause` is the {@link MpaValidationError} naming the option.
 *
 * @example
 * onCreate() {
 *   this.mpa = publishRoomActivity(this, { sync, connectionString: `203.0.113.7:2567?roomId=${this.roomId}`, xuid: (client, options) => options.xuid });
 * }
 * onAuth(client: Client, options: { xuid: string }) {
 *   return this.mpa.authorize(client, options);
 * }
 */
export function publishRoomActivity(room: Room<any>, options: RoomActivityOptions): RoomActivity {
  try {
    return publish(room, options);
  } catch (error) {
    // Colyseus sends a hook's error to the client with `error.code` as the HTTP status or close
    // code, so it must be numeric: an MpaError (code 'VALIDATION') travels as the cause.
    if (error instanceof MpaError) throw new ServerError(ErrorCode.APPLICATION_ERROR, `mpa-sync: ${error.message}`, { cause: error });
    throw error;
  }
}

function publish(room: Room<any>, options: RoomActivityOptions): RoomActivity {
  if (!isColyseusRoom(room)) {
    throw new MpaValidationError('publishRoomActivity', [{ path: ['room'], message: 'room must be a Colyseus Room (call publishRoomActivity(this, ...) in onCreate)' }]);
  }
  // A misspelt option (`platfrom`, `whenlocked`) would otherwise be dropped and its default
  // published to every player without a word.
  if (options !== undefined && options !== null) knownKeysOnly('publishRoomActivity', options, ROOM_OPTION_KEYS);
  const { sync, xuid: resolveXuid } = options ?? ({} as RoomActivityOptions);
  if (typeof resolveXuid !== 'function') throw new MpaValidationError('publishRoomActivity', [{ path: ['xuid'], message: 'xuid must be a function (client, options, auth) => xuid' }]);
  if (!sync || typeof sync.group !== 'function') throw new MpaValidationError('publishRoomActivity', [{ path: ['sync'], message: 'sync must be an ActivitySync' }]);
  const base = parseInput(joinRestrictionSchema.default('Followed'), options.joinRestriction, 'publishRoomActivity', ['joinRestriction']);
  const whenLocked = parseInput(joinRestrictionSchema.default('InviteOnly'), options.whenLocked, 'publishRoomActivity', ['whenLocked']);
  const whenPrivate = parseInput(joinRestrictionSchema.default('InviteOnly'), options.whenPrivate, 'publishRoomActivity', ['whenPrivate']);

  const maxPlayers = (): number => options.maxPlayers ?? room.maxClients;
  const first = maxPlayers();
  if (!(Number.isInteger(first) && first >= LIMITS.maxPlayersMin && first <= LIMITS.maxPlayersMax)) {
    const where = options.maxPlayers === undefined ? 'room.maxClients' : 'maxPlayers';
    throw new MpaValidationError('publishRoomActivity', [
      { path: [options.maxPlayers === undefined ? 'maxClients' : 'maxPlayers'], message: `${where} is ${first}; MPA needs ${LIMITS.maxPlayersMin}..${LIMITS.maxPlayersMax} (set room.maxClients, or pass maxPlayers)` },
    ]);
  }

  const restriction = (state: RoomWatch): JoinRestriction => {
    let r = base;
    const raise = (to: JoinRestriction) => void (RESTRICTIVENESS[to] > RESTRICTIVENESS[r] && (r = to));
    // A full room is not "locked" for friends: the count shows it is full. Only the studio's lock
    // of a room with free seats is.
    if (state.lockedByStudio && room.locked && !room.hasReachedMaxClients()) raise(whenLocked);
    if (state.isPrivate) raise(whenPrivate);
    return r;
  };

  const atStart = privateAtStart(room);
  const group = sync.group({
    groupId: options.groupId ?? room.roomId,
    connectionString: options.connectionString,
    maxPlayers: first,
    joinRestriction: restriction({ lockedByStudio: room.locked, isPrivate: atStart.isPrivate }),
    ...(options.platform ? { platform: options.platform } : {}),
    ...(options.recentPlayers ? { recentPlayers: options.recentPlayers } : {}),
  });

  const authorized = new Map<string, string | null>(); // sessionId -> xuid (null: not an Xbox user), between onAuth and join
  const sessions = new Map<string, string | null>(); // sessionId -> xuid of joined sessions
  const sessionsOf = new Map<string, Set<string>>(); // xuid -> its joined sessions
  let guests = 0; // joined sessions that are not Xbox users

  let disposed = false;
  const report = (error: unknown) => {
    const mpaError = error instanceof MpaError ? error : new MpaUsageError(`colyseus room ${room.roomId}: ${error instanceof Error ? error.message : String(error)}`);
    sync.emit('error', { groupId: group.groupId, error: mpaError });
  };
  if (atStart.problem) report(atStart.problem);
  // Colyseus calls these from its own join/leave paths: a throw here would break them.
  const guarded =
    <A extends unknown[]>(fn: (...args: A) => void) =>
    (...args: A) => {
      try {
        fn(...args);
      } catch (error) {
        report(error);
      }
    };

  const resolve = (client: Client, joinOptions: unknown, auth: unknown): string | null => {
    const raw = resolveXuid(client, joinOptions, auth);
    if (raw === undefined || raw === null) return null;
    return parseInput(xuidSchema, raw, 'xuid', ['xuid']);
  };

  /** Brings maxPlayers, join restriction and the guest count in line with the room. */
  const reconcile = () => {
    if (disposed) return;
    const now = group.settings;
    const patch: GroupUpdate = {};
    const max = maxPlayers();
    if (max !== now.maxPlayers) {
      if (Number.isInteger(max) && max >= LIMITS.maxPlayersMin && max <= LIMITS.maxPlayersMax) patch.maxPlayers = max;
      else report(new MpaValidationError('publishRoomActivity', [{ path: ['maxClients'], message: `room.maxClients is ${max}; MPA needs ${LIMITS.maxPlayersMin}..${LIMITS.maxPlayersMax}; keeping ${now.maxPlayers}` }]));
    }
    const wanted = restriction(watch);
    if (wanted !== now.joinRestriction) patch.joinRestriction = wanted;
    if (guests !== now.extraPlayers) patch.extraPlayers = guests;
    if (Object.keys(patch).length > 0) group.update(patch);
  };

  const onJoin = guarded((client: Client) => {
    let id: string | null;
    if (authorized.has(client.sessionId)) {
      id = authorized.get(client.sessionId)!;
      authorized.delete(client.sessionId);
    } else {
      try {
        id = resolve(client, undefined, client.auth);
      } catch (error) {
        const why = error instanceof MpaError ? error.message : String(error);
        throw new MpaUsageError(`colyseus room ${room.roomId}: no xuid for session ${client.sessionId} (${why}); when the xuid comes from join options, call authorize() from onAuth`);
      }
    }
    sessions.set(client.sessionId, id);
    if (id === null) guests++;
    else {
      const own = sessionsOf.get(id) ?? new Set();
      own.add(client.sessionId);
      sessionsOf.set(id, own);
      // Settings first, so the new member's single PUT carries the count it joins into.
      reconcile();
      if (own.size === 1) group.join(id);
      return;
    }
    reconcile();
  });

  const onLeave = guarded((sessionId: string) => {
    authorized.delete(sessionId);
    if (!sessions.has(sessionId)) return; // its join never completed, or its leave was already heard
    const id = sessions.get(sessionId)!;
    sessions.delete(sessionId);
    if (id === null) guests--;
    else {
      const own = sessionsOf.get(id)!;
      own.delete(sessionId);
      // One xuid may hold several sessions (two devices, a reconnect racing the old socket):
      // the activity goes only with the last one.
      if (own.size === 0) {
        sessionsOf.delete(id);
        if (!disposed) group.leave(id);
      }
    }
    reconcile();
  });

  let markClosed!: () => void;
  const closed = new Promise<void>((r) => (markClosed = r));
  const onDispose = () => {
    if (disposed) return;
    disposed = true;
    let closing: Promise<unknown>;
    try {
      closing = group.close();
    } catch (error) {
      closing = Promise.reject(error);
    }
    closing
      // A sync closed first (the wrong shutdown order) already deleted everyone.
      .catch((error: unknown) => void (!(error instanceof MpaError && error.code === 'CLOSED') && report(error)))
      .finally(markClosed);
  };

  const watch: RoomWatch = watchRoom(room, atStart.isPrivate, { join: onJoin, leave: onLeave, settings: guarded(reconcile), dispose: onDispose });

  return {
    group,
    closed,
    xuidOf: (sessionId) => sessions.get(sessionId) ?? undefined,
    authorize(client, joinOptions, auth = client?.auth) {
      try {
        authorized.set(client.sessionId, resolve(client, joinOptions, auth));
        // Some joins that fail after onAuth never reach onLeave (the socket closes before onJoin,
        // the room's onAuth throws after this): bound what they leave behind, oldest first.
        if (authorized.size > AUTHORIZED_CAP) authorized.delete(authorized.keys().next().value!);
      } catch (error) {
        const why = error instanceof MpaValidationError ? error.issues.map((i) => i.message).join('; ') : error instanceof Error ? error.message : String(error);
        throw new ServerError(ErrorCode.AUTH_FAILED, `mpa-sync: this player's Xbox user id is not valid: ${why}`, { cause: error });
      }
      return true;
    },
  };
}
