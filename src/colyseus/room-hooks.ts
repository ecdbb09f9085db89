/**
 * Follows one Colyseus 0.18 room through its public Room API, the way a room plugin does: the
 * room's own lifecycle methods (onJoin, onLeave, onDispose) and its public setters (lock,
 * unlock, setPrivate, setMatchmaking, allowReconnection) are wrapped on this one instance, each
 * calling the room's own method first and unchanged, so Colyseus's behaviour is untouched.
 */
import { ClientState, matchMaker, type Client, type Room } from '@colyseus/core';
import { MpaUsageError } from '../errors.js';

/** What the adapter hears from the room. Colyseus calls these from its own paths: they must not throw. */
export interface RoomHooks {
  /** A session's join completed (the room's own onJoin returned and the socket is still open). */
  join(client: Client): void;
  /** A session left for good. May come twice for one session, or for a join that never completed: ignore sessions you do not hold. */
  leave(sessionId: string): void;
  /** The room's lock, privacy or matchmaking settings may have changed. */
  settings(): void;
  /** The room is being disposed (after the room's own onDispose started). */
  dispose(): void;
}

/** What the room's public getters do not say, tracked from its public setters. */
export interface RoomWatch {
  /**
   * Whether the studio locked the room (`lock()`, `setMatchmaking({ locked: true })`), as opposed
   * to Colyseus locking it because it is full or because the server is shutting down.
   */
  readonly lockedByStudio: boolean;
  /** Whether the room is private (`setPrivate()`, `setMatchmaking({ private })`). */
  readonly isPrivate: boolean;
}

/** The methods {@link watchRoom} wraps: a room must have every one of them. */
const WRAPPED = ['lock', 'unlock', 'setPrivate', 'setMatchmaking', 'allowReconnection'] as const;

/** Whether `value` has the public Room API the adapter relies on. */
export function isColyseusRoom(value: unknown): value is Room<any> {
  if (typeof value !== 'object' || value === null) return false;
  const room = value as Record<string, unknown>;
  return WRAPPED.every((name) => typeof room[name] === 'function') && typeof room['hasReachedMaxClients'] === 'function' && Array.isArray(room['clients']);
}

/**
 * Whether the room was already private when the adapter started following it (a `setPrivate()`
 * earlier in `onCreate`).
 *
 * This is the adapter's one read of a Colyseus private field: 0.18 keeps a room's privacy only in
 * its private room listing, with no getter, and `setPrivate()` calls made before the adapter was
 * attached cannot be seen any other way. A listing of another shape (a Colyseus other than 0.18)
 * is returned as a `problem` for the caller to report, never guessed at silently.
 */
export function privateAtStart(room: Room<any>): { isPrivate: boolean; problem?: MpaUsageError } {
  const listing = (room as unknown as { _listing?: unknown })._listing;
  const flag = typeof listing === 'object' && listing !== null ? (listing as { private?: unknown }).private : undefined;
  if (typeof flag === 'boolean') return { isPrivate: flag };
  return {
    isPrivate: false,
    problem: new MpaUsageError(
      `colyseus room ${room.roomId}: cannot tell whether the room is already private (Colyseus's room listing has no boolean 'private'; mpa-sync/colyseus supports @colyseus/core 0.18): published as not private until setPrivate() is called`,
    ),
  };
}

type Method = (this: Room<any>, ...args: any[]) => any;

/** Replaces `room[name]` on this instance only, with what `make` builds around the room's own method. */
function wrap(room: Room<any>, name: string, make: (original: Method | undefined) => Method): void {
  const methods = room as unknown as Record<string, Method | undefined>;
  methods[name] = make(methods[name]);
}

/**
 * Starts following `room`: call once, after everything that can refuse the room, since the
 * wrappers stay on the room for its life.
 */
export function watchRoom(room: Room<any>, startsPrivate: boolean, hooks: RoomHooks): RoomWatch {
  const shuttingDown = () => matchMaker.state === matchMaker.MatchMakerState.SHUTTING_DOWN;
  let lockedByStudio = room.locked;
  let isPrivate = startsPrivate;
  const held = new Set<string>(); // sessions whose seat allowReconnection() holds
  const afterSettings = (result: unknown) => Promise.resolve(result).finally(() => hooks.settings());

  wrap(room, 'onJoin', (original) => async function (this: Room<any>, client: Client, ...rest: unknown[]) {
    const result = await original?.call(this, client, ...rest);
    // Colyseus drops a client whose socket closed during onJoin right after onJoin returns.
    if (client.state !== ClientState.LEAVING) hooks.join(client);
    return result;
  });

  wrap(room, 'onLeave', (original) => async function (this: Room<any>, client: Client, ...rest: unknown[]) {
    try {
      return await original?.call(this, client, ...rest);
    } finally {
      // A room that calls allowReconnection() from onLeave keeps the player while the seat is held
      // (its outcome decides), and has them in `clients` again if they already came back.
      if (!held.has(client.sessionId) && !room.clients.get(client.sessionId)) hooks.leave(client.sessionId);
    }
  });

  wrap(room, 'allowReconnection', (original) => function (this: Room<any>, previousClient: Client, ...rest: unknown[]) {
    const reconnection = original!.call(this, previousClient, ...rest);
    const { sessionId } = previousClient;
    held.add(sessionId);
    Promise.resolve(reconnection).then(
      () => void held.delete(sessionId),
      () => {
        held.delete(sessionId);
        hooks.leave(sessionId);
      },
    );
    return reconnection;
  });

  wrap(room, 'onDispose', (original) => function (this: Room<any>) {
    // The room's own onDispose first: it may still use the group (report recent players), and an
    // `await mpa.closed` in it is already waiting when the group starts closing.
    try {
      return original?.call(this);
    } finally {
      hooks.dispose();
    }
  });

  wrap(room, 'lock', (original) => function (this: Room<any>, ...args: unknown[]) {
    // Colyseus locks a room itself when it fills (an unlocked room that has reached maxClients)
    // and reopens it when a seat frees: that is the count's business, as is the shutdown lock.
    // Arguments are passed through untouched: Colyseus's own calls carry one.
    if (!shuttingDown() && (room.locked || !room.hasReachedMaxClients())) lockedByStudio = true;
    return afterSettings(original!.apply(this, args));
  });

  wrap(room, 'unlock', (original) => function (this: Room<any>, ...args: unknown[]) {
    lockedByStudio = false;
    return afterSettings(original!.apply(this, args));
  });

  wrap(room, 'setPrivate', (original) => function (this: Room<any>, ...args: unknown[]) {
    isPrivate = args[0] === undefined ? true : Boolean(args[0]); // setPrivate()'s own default is true
    return afterSettings(original!.apply(this, args));
  });

  // maxClients; its `locked` and `private` go through lock(), unlock() and setPrivate() above.
  wrap(room, 'setMatchmaking', (original) => function (this: Room<any>, ...args: unknown[]) {
    return afterSettings(original!.apply(this, args));
  });

  return {
    get lockedByStudio() {
      return lockedByStudio;
    },
    get isPrivate() {
      return isPrivate;
    },
  };
}
