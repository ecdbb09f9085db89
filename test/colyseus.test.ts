/**
 * mpa-sync/colyseus against the real framework: @colyseus/core with its WebSocket transport,
 * @colyseus/sdk clients over loopback, and the mpa-sync emulator on 127.0.0.1.
 */
import type { AddressInfo } from 'node:net';
import { ClientState, CloseCode, matchMaker, Room, Server, ServerError, type Client } from '@colyseus/core';
import { Client as SdkClient, type Room as SdkRoom } from '@colyseus/sdk';
import { WebSocketTransport } from '@colyseus/ws-transport';
import { WebSocket as WsWebSocket } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ActivitySync, MpaClient, MpaUsageError, MpaValidationError, type SyncEvent } from '../src/index.js';
import type { JoinRestriction } from '../src/schemas.js';
import { startEmulator, type Emulator } from '../src/emulator/index.js';

type ErrorEvent = SyncEvent<'error'>;
import { publishRoomActivity, type RoomActivity, type RoomActivityOptions, type XuidResolver } from '../src/colyseus/index.js';

const A = '2533274800000001';
const B = '2533274800000002';
const C = '2533274800000003';
const D = '2533274800000004';

let emulator: Emulator;
let sync: ActivitySync;
let server: Server;
let endpoint: string;
const errors: ErrorEvent[] = [];
const opened: SdkRoom[] = [];

/** The studio's room: the one line in onCreate, the one line in onAuth. */
class ArenaRoom extends Room {
  override maxClients = 3;
  mpa!: RoomActivity;
  override onCreate(options: { recent?: boolean }) {
    this.mpa = publishRoomActivity(this, {
      sync,
      connectionString: `127.0.0.1:2567?roomId=${this.roomId}`,
      xuid: (_client, joinOptions: { xuid?: string }) => joinOptions?.xuid,
      ...(options.recent ? { recentPlayers: { encounterType: 'Opponent' as const } } : {}),
    });
  }
  override onAuth(client: Client, options: { xuid?: string }) {
    return this.mpa.authorize(client, options);
  }
}

/** Holds a dropped player's seat for `reconnectSeconds` (join option), as most studios do. */
class ReconnectRoom extends ArenaRoom {
  reconnectSeconds = 5;
  override onCreate(options: { recent?: boolean; reconnectSeconds?: number }) {
    super.onCreate(options);
    this.reconnectSeconds = options.reconnectSeconds ?? 5;
  }
  override onDrop(client: Client) {
    // Not awaited: Colyseus emits the room's leave only if the window passes without a reconnect.
    this.allowReconnection(client, this.reconnectSeconds).catch(() => undefined);
  }
}

/** The older pattern: allowReconnection() called from onLeave (awaited or not), with no onDrop. */
class LegacyReconnectRoom extends ArenaRoom {
  reconnectSeconds = 5;
  awaitReconnection = true;
  override onCreate(options: { recent?: boolean; reconnectSeconds?: number; awaitReconnection?: boolean }) {
    super.onCreate(options);
    this.reconnectSeconds = options.reconnectSeconds ?? 5;
    this.awaitReconnection = options.awaitReconnection ?? true;
  }
  override async onLeave(client: Client, code?: number) {
    if (code === CloseCode.CONSENTED) return;
    const reconnection = this.allowReconnection(client, this.reconnectSeconds).catch(() => undefined);
    if (this.awaitReconnection) await reconnection;
  }
}

/** A match that plays on to its end when the server shuts down: its players leave by themselves. */
class DrainRoom extends ArenaRoom {
  override onBeforeShutdown() {}
}

/** A studio's own lifecycle methods, next to the adapter's. */
const hookCalls: string[] = [];
class HookedRoom extends ArenaRoom {
  override async onJoin(client: Client, options: { refuse?: boolean; kick?: boolean }) {
    if (options.refuse) throw new ServerError(4403, 'this match is full of friends already');
    if (options.kick) {
      client.leave(); // the socket closes while onJoin still runs
      await vi.waitFor(() => expect(client.state).toBe(ClientState.LEAVING));
      return;
    }
    hookCalls.push(`join ${client.sessionId}`);
  }
  override onLeave() {
    hookCalls.push('leave');
  }
  override async onDispose() {
    hookCalls.push(`dispose, group ${sync.getGroup(this.roomId) ? 'open' : 'closed'}`); // still usable here (a last report)
    await this.mpa.closed; // the docs' pattern: the group starts closing while this waits
    hookCalls.push(`closed with ${this.mpa.group.members.length} members`);
  }
}

/** Made private in onCreate before publishRoomActivity is called. */
class PrivateFromStartRoom extends ArenaRoom {
  override onCreate(options: { recent?: boolean }) {
    void this.setPrivate(true);
    super.onCreate(options);
  }
}

/** The README's quick start: the xuid from a static onAuth's verified result (client.auth). */
const VERIFIED: Record<string, string> = { 'token-of-a': A };
class QuickStartRoom extends Room {
  override maxClients = 8;
  mpa!: RoomActivity;
  static override async onAuth(token: string) {
    const xuid = VERIFIED[token];
    if (!xuid) throw new ServerError(401, 'not an Xbox player');
    return { xuid };
  }
  override onCreate() {
    this.mpa = publishRoomActivity(this, { sync, connectionString: `127.0.0.1:2567?roomId=${this.roomId}`, xuid: (_client, _options, auth: { xuid?: string } | undefined) => auth?.xuid });
  }
}

/** The mistake the quick start once made: an instance onAuth, where client.auth is not set yet. */
class InstanceAuthRoom extends Room {
  override maxClients = 4;
  mpa!: RoomActivity;
  override onCreate() {
    this.mpa = publishRoomActivity(this, { sync, connectionString: 'c', xuid: (_client, _options, auth: { xuid?: string } | undefined) => auth?.xuid });
  }
  override async onAuth(client: Client, options: { token?: string }) {
    const auth = { xuid: VERIFIED[options.token ?? ''] };
    this.mpa.authorize(client, options, auth); // what was verified, passed on
    return auth;
  }
}

/** maxClients left at Colyseus's default (Infinity). */
class UnboundedRoom extends Room {
  override onCreate() {
    publishRoomActivity(this, { sync, connectionString: 'c', xuid: () => undefined });
  }
}

const serverRoom = (room: SdkRoom) => matchMaker.getLocalRoomById(room.roomId) as ArenaRoom;
const join = async (options: { xuid?: string; recent?: boolean }, name = 'arena') => {
  const room = await new SdkClient(endpoint).joinOrCreate(name, options);
  opened.push(room);
  return room;
};
const activity = (xuid: string) => emulator.activity(xuid);

// Colyseus 0.18 checks a reconnecting client against the global WebSocket (`WebSocket.OPEN`),
// which Node 20 has only with --experimental-websocket: without it, every reconnection fails
// with "WebSocket is not defined". The README gives studios the same one line.
const hadWebSocket = 'WebSocket' in globalThis;

beforeAll(async () => {
  if (!hadWebSocket) Object.assign(globalThis, { WebSocket: WsWebSocket });
  // Rate limits are the engine's business (tested elsewhere); here they would only slow the test down.
  emulator = await startEmulator({ port: 0, host: '127.0.0.1', rateLimits: false });
  sync = new ActivitySync({ client: new MpaClient({ titleId: 1234567890, baseUrl: emulator.url, authorization: () => 'XBL3.0 x=1;colyseus-test' }), countRefreshIntervalMs: 0, budgets: false });
  sync.on('error', (e) => errors.push(e));
  server = new Server({ transport: new WebSocketTransport(), greet: false, gracefullyShutdown: false });
  server.define('arena', ArenaRoom);
  server.define('unbounded', UnboundedRoom);
  server.define('quickstart', QuickStartRoom);
  server.define('instance-auth', InstanceAuthRoom);
  server.define('reconnect', ReconnectRoom);
  server.define('legacy-reconnect', LegacyReconnectRoom);
  server.define('hooked', HookedRoom);
  server.define('drain', DrainRoom);
  server.define('private-from-start', PrivateFromStartRoom);
  await server.listen(0, '127.0.0.1');
  endpoint = `http://127.0.0.1:${(server.transport.server!.address() as AddressInfo).port}`;
});

afterEach(async () => {
  if (sync.closed) return;
  await Promise.all(opened.splice(0).map((r) => (r.connection.isOpen ? r.leave() : undefined)));
  await vi.waitFor(() => expect(matchMaker.stats.local.roomCount).toBe(0), { timeout: 10_000 });
  await sync.flush();
  emulator.reset();
  errors.length = 0;
  hookCalls.length = 0;
});

afterAll(async () => {
  if (!hadWebSocket) Reflect.deleteProperty(globalThis, 'WebSocket');
  await server?.gracefullyShutdown(false);
  if (!sync?.closed) await sync?.close();
  await emulator?.close();
});

describe('mpa-sync/colyseus', () => {
  it('the README quick start publishes a player whose xuid a static onAuth verified', { timeout: 20_000 }, async () => {
    const player = new SdkClient(endpoint);
    player.http.authToken = 'token-of-a';
    opened.push(await player.joinOrCreate('quickstart'));
    await sync.flush();
    expect(activity(A)).toMatchObject({ currentPlayers: 1, maxPlayers: 8, joinRestriction: 'Followed' });
    expect(errors).toEqual([]);
  });

  it('an instance onAuth publishes the player when it passes what it verified to authorize()', { timeout: 20_000 }, async () => {
    opened.push(await new SdkClient(endpoint).joinOrCreate('instance-auth', { token: 'token-of-a' }));
    await sync.flush();
    expect(activity(A)).toMatchObject({ currentPlayers: 1 });
  });

  it('publishes every player of a room, and deletes a xuid\'s activity only when its last session leaves', { timeout: 20_000 }, async () => {
    const a1 = await join({ xuid: A });
    const a2 = await new SdkClient(endpoint).joinById(a1.roomId, { xuid: A });
    opened.push(a2);
    const b = await new SdkClient(endpoint).joinById(a1.roomId, { xuid: B });
    opened.push(b);
    await vi.waitFor(async () => {
      await sync.flush();
      expect(activity(B)).toMatchObject({ currentPlayers: 2, maxPlayers: 3, joinRestriction: 'Followed', connectionString: `127.0.0.1:2567?roomId=${a1.roomId}` });
    });
    expect(activity(A)).toMatchObject({ currentPlayers: 2 });

    await a1.leave();
    await vi.waitFor(() => expect(serverRoom(b).clients.length).toBe(2));
    await sync.flush();
    expect(activity(A)).toBeDefined(); // A still plays on their second session

    await a2.leave();
    await vi.waitFor(async () => {
      await sync.flush();
      expect(activity(A)).toBeUndefined();
      expect(activity(B)).toMatchObject({ currentPlayers: 1 });
    });
    expect(errors).toEqual([]);
  });

  it('follows maxClients, lock, unlock and setPrivate; a room Colyseus locks because it is full stays Followed', { timeout: 20_000 }, async () => {
    const a = await join({ xuid: A });
    const room = serverRoom(a);
    opened.push(await new SdkClient(endpoint).joinById(a.roomId, { xuid: B }));
    opened.push(await new SdkClient(endpoint).joinById(a.roomId, { xuid: C }));
    await vi.waitFor(async () => {
      await sync.flush();
      expect(activity(C)).toMatchObject({ currentPlayers: 3, maxPlayers: 3 });
    });
    expect(room.locked).toBe(true); // Colyseus's own lock of a full room still works
    expect(activity(A)?.joinRestriction).toBe('Followed');

    await room.setMatchmaking({ maxClients: 5 });
    await vi.waitFor(async () => {
      await sync.flush();
      expect(activity(A)).toMatchObject({ maxPlayers: 5, joinRestriction: 'Followed' });
    });
    expect(room.locked).toBe(false);

    await room.lock();
    await sync.flush();
    expect(activity(B)?.joinRestriction).toBe('InviteOnly');
    await room.unlock();
    await sync.flush();
    expect(activity(B)?.joinRestriction).toBe('Followed');
    await room.setPrivate(true);
    await sync.flush();
    expect(activity(C)?.joinRestriction).toBe('InviteOnly');
    await room.setPrivate(false);
    await sync.flush();
    expect(activity(C)?.joinRestriction).toBe('Followed');
    expect(errors).toEqual([]);
  });

  it('a room locked by the studio while full publishes whenLocked once a seat frees; a room Colyseus locked while full publishes no settings change when a player leaves', { timeout: 20_000 }, async () => {
    const a = await join({ xuid: A });
    const room = serverRoom(a);
    opened.push(await new SdkClient(endpoint).joinById(a.roomId, { xuid: B }));
    const c = await new SdkClient(endpoint).joinById(a.roomId, { xuid: C });
    await vi.waitFor(async () => {
      await sync.flush();
      expect(activity(C)).toMatchObject({ currentPlayers: 3 });
    });
    const settings: string[] = [];
    sync.on('request', (e) => void (e.reason === 'settings' && settings.push(`${e.method} ${e.xuid}`)));

    await c.leave(); // Colyseus reopens the room it locked for being full
    await vi.waitFor(async () => {
      await sync.flush();
      expect(activity(A)).toMatchObject({ currentPlayers: 2, joinRestriction: 'Followed' });
    });
    expect(room.locked).toBe(false);
    expect(settings).toEqual([]);

    const c2 = await new SdkClient(endpoint).joinById(a.roomId, { xuid: C });
    opened.push(c2);
    await vi.waitFor(() => expect(room.locked).toBe(true));
    await room.lock(); // the studio's lock of a room that is full: the count already says so
    await sync.flush();
    expect(activity(A)?.joinRestriction).toBe('Followed');
    await c2.leave();
    await vi.waitFor(async () => {
      await sync.flush();
      expect(activity(A)).toMatchObject({ currentPlayers: 2, joinRestriction: 'InviteOnly' });
    });
    expect(room.locked).toBe(true); // Colyseus keeps the studio's lock when a seat frees
    await room.unlock();
    await sync.flush();
    expect(activity(A)?.joinRestriction).toBe('Followed');
    expect(errors).toEqual([]);
  });

  it('a room made private in onCreate before publishRoomActivity publishes whenPrivate from the first PUT', { timeout: 20_000 }, async () => {
    const a = await new SdkClient(endpoint).create('private-from-start', { xuid: A });
    opened.push(a);
    const puts = () => emulator.core.log.filter((l) => l.xuid === A && l.method === 'PUT').length;
    await vi.waitFor(async () => {
      await sync.flush();
      expect(activity(A)).toMatchObject({ joinRestriction: 'InviteOnly' });
    });
    expect(puts()).toBe(1);
    // An error here means Colyseus no longer keeps a room's privacy where 0.18 does.
    expect(errors).toEqual([]);
    await serverRoom(a).setPrivate(false);
    await sync.flush();
    expect(activity(A)?.joinRestriction).toBe('Followed');
  });

  it("the studio's own onJoin, onLeave and onDispose still run; a join its onJoin refuses, or whose socket closes during onJoin, publishes nothing and never counts as played", { timeout: 20_000 }, async () => {
    const a = await join({ xuid: A, recent: true }, 'hooked');
    const room = serverRoom(a);
    await expect(new SdkClient(endpoint).joinById(a.roomId, { xuid: B, refuse: true } as { xuid: string })).rejects.toThrow(/full of friends/);
    await expect(new SdkClient(endpoint).joinById(a.roomId, { xuid: C, kick: true } as { xuid: string })).rejects.toThrow();
    await sync.flush();
    expect(activity(A)).toMatchObject({ currentPlayers: 1 });
    expect(emulator.core.log.filter((l) => l.xuid === B || l.xuid === C)).toEqual([]);

    await a.leave(); // the last leave auto-disposes the room
    await room.mpa.closed;
    await vi.waitFor(() => expect(hookCalls).toContain('closed with 0 members'));
    expect(emulator.core.recentPlayerGroups).toEqual([]); // only A played: B and C never joined
    expect(hookCalls).toEqual([`join ${a.sessionId}`, ...hookCalls.slice(1, -2).map(() => 'leave'), 'dispose, group open', 'closed with 0 members']);
    expect(hookCalls).toContain('leave');
    await sync.flush();
    expect(activity(A)).toBeUndefined();
    expect(errors).toEqual([]);
  });

  it('a player who drops and reconnects within allowReconnection keeps their activity: no DELETE, no PUT for it', { timeout: 20_000 }, async () => {
    const a = await join({ xuid: A }, 'reconnect');
    opened.push(await new SdkClient(endpoint).joinById(a.roomId, { xuid: B }));
    const room = serverRoom(a);
    await vi.waitFor(async () => {
      await sync.flush();
      expect(activity(A)).toMatchObject({ currentPlayers: 2 });
    });
    const writesOfA = () => emulator.core.log.filter((l) => l.xuid === A && (l.method === 'PUT' || l.method === 'DELETE')).length;
    const before = writesOfA();
    const token = a.reconnectionToken;
    a.reconnection.enabled = false; // the test reconnects by hand, when it chooses
    await a.leave(false); // the socket drops: not a consented leave
    await vi.waitFor(() => expect(room.clients.length).toBe(1));
    await sync.flush();
    expect(activity(A)).toMatchObject({ currentPlayers: 2 }); // the seat is held: friends still see A in the match

    opened.push(await new SdkClient(endpoint).reconnect(token));
    await vi.waitFor(() => expect(room.clients.length).toBe(2));
    await sync.flush();
    expect(activity(A)).toMatchObject({ currentPlayers: 2 });
    expect(writesOfA()).toBe(before);
    expect(room.mpa.group.members).toEqual(expect.arrayContaining([A, B]));
    expect(errors).toEqual([]);
  });

  it('a dropped player who does not come back within allowReconnection leaves: their activity is deleted', { timeout: 20_000 }, async () => {
    const a = await join({ xuid: A, reconnectSeconds: 1 } as { xuid: string }, 'reconnect');
    opened.push(await new SdkClient(endpoint).joinById(a.roomId, { xuid: B }));
    await vi.waitFor(async () => {
      await sync.flush();
      expect(activity(B)).toMatchObject({ currentPlayers: 2 });
    });
    a.reconnection.enabled = false;
    await a.leave(false);
    await sync.flush();
    expect(activity(A)).toBeDefined(); // within the window
    await vi.waitFor(
      async () => {
        await sync.flush();
        expect(activity(A)).toBeUndefined();
        expect(activity(B)).toMatchObject({ currentPlayers: 1 });
      },
      { timeout: 5000 },
    );
    expect(errors).toEqual([]);
  });

  it.each([true, false])('allowReconnection from onLeave (the older pattern; awaited: %s): a player who comes back keeps their activity, one who does not is deleted', { timeout: 20_000 }, async (awaitReconnection) => {
    const a = await join({ xuid: A, reconnectSeconds: 1, awaitReconnection } as { xuid: string }, 'legacy-reconnect');
    const b = await new SdkClient(endpoint).joinById(a.roomId, { xuid: B });
    opened.push(b);
    const room = serverRoom(a);
    await vi.waitFor(async () => {
      await sync.flush();
      expect(activity(A)).toMatchObject({ currentPlayers: 2 });
    });
    const writesOfA = () => emulator.core.log.filter((l) => l.xuid === A && (l.method === 'PUT' || l.method === 'DELETE')).length;
    const before = writesOfA();
    const token = a.reconnectionToken;
    a.reconnection.enabled = false;
    await a.leave(false);
    opened.push(await new SdkClient(endpoint).reconnect(token));
    await vi.waitFor(() => expect(room.clients.length).toBe(2));
    await sync.flush();
    expect(activity(A)).toMatchObject({ currentPlayers: 2 });
    expect(writesOfA()).toBe(before);

    b.reconnection.enabled = false;
    await b.leave(false);
    await vi.waitFor(
      async () => {
        await sync.flush();
        expect(activity(B)).toBeUndefined();
        expect(activity(A)).toMatchObject({ currentPlayers: 1 });
      },
      { timeout: 5000 },
    );
    expect(room.mpa.group.members).toEqual([A]);
    expect(errors).toEqual([]);
  });

  it('refuses a bad xuid at onAuth with a clear message, and counts players who are not Xbox users', { timeout: 20_000 }, async () => {
    const a = await join({ xuid: A });
    await expect(new SdkClient(endpoint).joinById(a.roomId, { xuid: 'not-a-xuid' })).rejects.toThrow(/Xbox user id is not valid: xuid must be a base-10 integer string/);
    await expect(new SdkClient(endpoint).joinById(a.roomId, { xuid: '0' })).rejects.toThrow(/Xbox user id is not valid/);
    opened.push(await new SdkClient(endpoint).joinById(a.roomId, {})); // a cross-play guest
    await vi.waitFor(async () => {
      await sync.flush();
      expect(activity(A)).toMatchObject({ currentPlayers: 2 });
    });
    expect(serverRoom(a).mpa.group.members).toEqual([A]);
    expect(serverRoom(a).mpa.xuidOf(a.sessionId)).toBe(A);
  });

  it('closes the group when the room is disposed: activities deleted, recent players reported', { timeout: 20_000 }, async () => {
    const a = await join({ xuid: A, recent: true });
    const b = await new SdkClient(endpoint).joinById(a.roomId, { xuid: B });
    const room = serverRoom(a);
    await vi.waitFor(async () => {
      await sync.flush();
      expect(activity(B)).toMatchObject({ currentPlayers: 2 });
    });
    await Promise.all([a.leave(), b.leave()]); // the last leave auto-disposes the room
    await room.mpa.closed;
    await sync.flush(); // the DELETEs of players who left just before the dispose
    expect(activity(A)).toBeUndefined();
    expect(activity(B)).toBeUndefined();
    expect(emulator.core.recentPlayerGroups).toMatchObject([{ players: expect.arrayContaining([A, B]), encounterType: 'Opponent' }]);
    expect(sync.getGroup(room.roomId)).toBeUndefined();
  });

  it('refuses a room whose maxClients cannot be published, naming it', { timeout: 20_000 }, async () => {
    await expect(new SdkClient(endpoint).create('unbounded', {})).rejects.toThrow(/room\.maxClients is Infinity; MPA needs 2\.\.100/);
  });
});


describe('bad options', () => {
  const refusal = (room: unknown, options: Partial<RoomActivityOptions>) => {
    try {
      publishRoomActivity(room as Room, { sync, connectionString: 'c', xuid: () => undefined, ...options } as RoomActivityOptions);
    } catch (error) {
      return error as ServerError & { cause: MpaValidationError };
    }
    throw new Error('not refused');
  };

  it('are refused with a Colyseus ServerError whose cause is an MpaValidationError naming the option', () => {
    const room = new ArenaRoom();
    room.maxClients = 4;
    const locked = refusal(room, { whenLocked: 'Never' as JoinRestriction });
    expect(locked).toBeInstanceOf(ServerError);
    expect(locked.cause).toBeInstanceOf(MpaValidationError);
    expect(locked.cause.issues[0]?.path).toEqual(['whenLocked']);
    expect(refusal(room, { xuid: 'xuid' as unknown as XuidResolver }).message).toMatch(/xuid must be a function/);
    expect(refusal({}, {}).message).toMatch(/room must be a Colyseus Room/);
    expect(refusal(room, { maxPlayers: 101 }).cause.issues[0]?.path).toEqual(['maxPlayers']);
  });
});

describe('a Colyseus whose room listing is not shaped as in 0.18', () => {
  it('is an error event (MpaUsageError) saying the room is published as not private, and setPrivate() is still followed', async () => {
    const room = new ArenaRoom();
    room.maxClients = 4;
    Reflect.set(room, '_listing', { visibility: 'private' }); // a renamed privacy flag
    const mpa = publishRoomActivity(room, { sync, connectionString: 'c', xuid: () => undefined, groupId: 'listing-changed' });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ groupId: 'listing-changed', error: expect.any(MpaUsageError) });
    expect(errors[0]?.error.message).toMatch(/cannot tell whether the room is already private .*@colyseus\/core 0\.18.*published as not private until setPrivate\(\) is called/);
    expect(mpa.group.settings.joinRestriction).toBe('Followed');
    await room.setPrivate(true);
    expect(mpa.group.settings.joinRestriction).toBe('InviteOnly');
    await room.onDispose!();
    await mpa.closed;
    expect(sync.getGroup('listing-changed')).toBeUndefined();
  });
});

describe('graceful shutdown', () => {
  it('the framework stopping first costs no PUT for its shutdown lock, only the DELETEs, even in a match that plays on to its end; then sync.close() has nothing left', { timeout: 20_000 }, async () => {
    const a = await join({ xuid: A });
    opened.push(await new SdkClient(endpoint).joinById(a.roomId, { xuid: B }));
    const c = await join({ xuid: C }, 'drain');
    const d = await new SdkClient(endpoint).joinById(c.roomId, { xuid: D });
    const drain = serverRoom(c);
    await vi.waitFor(async () => {
      await sync.flush();
      expect(activity(A)).toMatchObject({ currentPlayers: 2, joinRestriction: 'Followed' });
      expect(activity(C)).toMatchObject({ currentPlayers: 2, joinRestriction: 'Followed' });
    });
    const sent: string[] = [];
    sync.on('request', (e) => sent.push(`${e.method} ${e.xuid} ${e.reason}`));
    const shutdown = server.gracefullyShutdown(false); // Colyseus locks every room, then disconnects those that do not play on
    await vi.waitFor(() => expect(drain.locked).toBe(true));
    await d.leave(); // a seat frees in a room the shutdown locked, not the studio
    await vi.waitFor(async () => {
      await sync.flush();
      expect(activity(D)).toBeUndefined();
    });
    expect(activity(C)?.joinRestriction).toBe('Followed');
    await c.leave();
    await shutdown;
    await sync.flush();
    expect(sent.filter((s) => !s.endsWith(' count')).sort()).toEqual([`DELETE ${A} leave`, `DELETE ${B} leave`, `DELETE ${C} leave`, `DELETE ${D} leave`]);
    expect(emulator.activities()).toEqual([]);
    expect(await sync.close()).toEqual({ undeleted: [] });
    opened.length = 0;
  });
});
