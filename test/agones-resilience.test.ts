/**
 * What a fleet meets: the sidecar briefly unreachable (the watch reconnects with backoff on an
 * injected clock, nothing lost), the game server process restarting inside its pod (the new
 * process finds the players already in the List), and a player who moves to another game
 * server of the fleet (the new server's join wins; the old server's late leave cannot erase it).
 */
import { EventEmitter } from 'node:events';
import { createClock } from '@sinonjs/fake-timers';
import { afterEach, describe, expect, it } from 'vitest';
import { publishGameServerActivity, type AgonesGameServerObject, type AgonesSdkClient } from '../src/agones/index.js';
import { ActivitySync } from '../src/engine/activity-sync.js';
import { startEmulator } from '../src/emulator/server.js';
import { MpaClient } from '../src/client.js';
import { startLocalAgonesSdk, type LocalAgonesSdk } from '../src/testing/index.js';
import { closeSdk, connectSdk, errorsOf, syncFor, X1, X2, X3 } from './agones-helpers.js';

const START = Date.parse('2026-03-01T12:00:00Z');
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function localServer(name: string, address: string): Promise<LocalAgonesSdk> {
  const local = await startLocalAgonesSdk({ gameServer: { name, state: 'Scheduled', address, ports: [{ name: 'default', port: 7777 }], lists: { players: { capacity: 8 } } } });
  cleanups.push(() => local.close());
  return local;
}

async function emulator() {
  const e = await startEmulator({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => e.close());
  return e;
}

const allocated = (gs: { state: string }) => gs.state === 'Allocated';

describe('the sidecar briefly unreachable', () => {
  it('the watch breaks, reconnects after a backoff on the injected clock, and catches up on what changed meanwhile: nothing lost', async () => {
    const service = await emulator();
    const local = await localServer('gs-1', '203.0.113.7');
    const sdk = await connectSdk(local);
    cleanups.push(() => closeSdk(sdk));
    const sync = syncFor(service);
    cleanups.push(() => sync.close({ timeoutMs: 5000 }));
    const errors = errorsOf(sync);
    const clock = createClock(START);
    const mpa = publishGameServerActivity(sdk, { sync, clock, random: () => 0, reconnect: { baseMs: 1000, capMs: 8000 } });
    cleanups.push(() => mpa.shutdown());

    await sdk.ready();
    local.allocate({ lists: { players: { addValues: [X1, X2] } } });
    await mpa.applied(allocated);
    await sync.flush();

    const broke = errors.next('TRANSPORT');
    await local.interrupt();
    const { error } = await broke;
    expect(error.message).toMatch(/WatchGameServer broke .*reconnecting in 500 ms \(attempt 1\)/);
    // Meanwhile the group stays as it was: an unreachable sidecar says nothing about the players.
    expect(mpa.group?.members).toEqual([X1, X2]);
    expect(clock.countTimers()).toBe(1);

    // While the sidecar is away, one player leaves and another is allocated in.
    local.deleteListValue('players', X1);
    local.appendListValue('players', X3);
    await local.resume();
    await clock.tickAsync(500);
    await mpa.applied((gs) => gs.lists.players?.values.join() === [X2, X3].join());
    await sync.flush();

    expect(service.activity(X1)).toBeUndefined();
    expect(service.activity(X2)).toMatchObject({ currentPlayers: 2 });
    expect(service.activity(X3)).toMatchObject({ currentPlayers: 2 });
    expect(local.calls.filter((c) => c === 'WatchGameServer')).toHaveLength(2);
    expect(local.watchers).toBe(1);
  });

  it('backs off exponentially (half fixed, half jitter), capped, on the injected clock; a message resets it; a stream ended cleanly reconnects too', async () => {
    // A stand-in for the client: every watch call is recorded and ended by the test.
    const watches: { data: (gs: AgonesGameServerObject) => void; fail: (e: unknown) => void }[] = [];
    const streams: EventEmitter[] = [];
    const sdk: AgonesSdkClient & { streams: unknown[] } = {
      streams,
      watchGameServer(data, fail) {
        watches.push({ data, fail });
        streams.push(new EventEmitter());
      },
    };
    const clock = createClock(START);
    const sync = new ActivitySync({ client: new MpaClient({ titleId: 1, authorization: () => 'XBL3.0 x=1;t', fetch: async () => new Response(null, { status: 204 }) }) });
    cleanups.push(() => sync.close({ timeoutMs: 0 }));
    const errors = errorsOf(sync);
    const mpa = publishGameServerActivity(sdk, { sync, clock, random: () => 1, reconnect: { baseMs: 100, capMs: 500 } });
    cleanups.push(() => mpa.shutdown());

    const waits: number[] = [];
    for (let n = 0; n < 5; n++) {
      watches.at(-1)!.fail({ code: 14, details: 'Connection refused' });
      const wait = Number(/reconnecting in (\d+) ms/.exec(errors.seen.at(-1)!.error.message)![1]);
      waits.push(wait);
      await clock.tickAsync(wait - 1);
      expect(watches).toHaveLength(n + 1); // not a millisecond early
      await clock.tickAsync(1);
      expect(watches).toHaveLength(n + 2);
    }
    expect(waits).toEqual([100, 200, 400, 500, 500]);
    expect(errors.seen.at(-1)!.error.message).toContain('gRPC 14: Connection refused');

    // A GameServer received: the next break starts from the base again.
    watches.at(-1)!.data({ status: { state: 'Ready' } });
    streams.at(-1)!.emit('status', { code: 0, details: 'OK' });
    expect(errors.seen.at(-1)!.error.message).toMatch(/ended\); reconnecting in 100 ms \(attempt 1\)/);
    await clock.tickAsync(100);
    expect(watches).toHaveLength(7);
    // Dead streams are not kept in the client's list.
    expect(streams).toHaveLength(1);

    await mpa.shutdown();
    expect(clock.countTimers()).toBe(0);
    expect(streams).toHaveLength(0);
  });
});

describe('the game server process restarts inside its pod', () => {
  it('the new process finds the allocation and its players in the List, rewrites their activities, and its leaves delete them; the dead process’s late DELETEs cannot erase them', async () => {
    const service = await emulator();
    const local = await localServer('gs-1', '203.0.113.7');

    // The first process: publishes, then dies without a word (no shutdown, no DELETE).
    const first = await connectSdk(local);
    const firstSync = syncFor(service, { now: () => START });
    const mpaFirst = publishGameServerActivity(first, { sync: firstSync, clock: createClock(START) }); // its reconnects never fire
    await first.ready();
    local.allocate({ lists: { players: { addValues: [X1, X2] } } });
    await mpaFirst.applied(allocated);
    await firstSync.flush();
    const firstWrite = service.activity(X1)!.sequenceNumber;
    closeSdk(first);

    // The second process, a minute later, in the same pod: same GameServer, same sidecar.
    const second = await connectSdk(local);
    cleanups.push(() => closeSdk(second));
    const sync = syncFor(service, { now: () => START + 60_000 });
    cleanups.push(() => sync.close({ timeoutMs: 5000 }));
    const mpa = publishGameServerActivity(second, { sync });
    cleanups.push(() => mpa.shutdown());
    await mpa.applied(allocated);
    await sync.flush();
    expect(mpa.group?.members).toEqual([X1, X2]);
    expect(BigInt(service.activity(X1)!.sequenceNumber)).toBeGreaterThan(BigInt(firstWrite));
    expect(service.activity(X1)).toMatchObject({ groupId: 'gs-1', currentPlayers: 2 });

    // X2 never came back: the new process's game logic removes them, and their activity goes.
    expect(await mpa.removePlayer(X2)).toBe('removed');
    await mpa.applied((gs) => !gs.lists.players?.values.includes(X2));
    await sync.flush();
    expect(service.activity(X2)).toBeUndefined();
    expect(service.activity(X1)).toMatchObject({ currentPlayers: 1 });

    // Whatever the dead process still had queued is older: the service refuses it.
    await firstSync.close({ timeoutMs: 5000 });
    expect(service.activity(X1)).toMatchObject({ currentPlayers: 1 });
  });
});

describe('a player moves to another game server of the fleet', () => {
  it('two ActivitySyncs, one emulator: the new server’s join wins, and the old server’s late leave cannot erase it', async () => {
    const service = await emulator();
    const localA = await localServer('gs-a', '203.0.113.7');
    const localB = await localServer('gs-b', '203.0.113.8');
    let now = START;
    const clockNow = () => now;
    const [sdkA, sdkB] = [await connectSdk(localA), await connectSdk(localB)];
    cleanups.push(() => closeSdk(sdkA), () => closeSdk(sdkB));
    const [syncA, syncB] = [syncFor(service, { now: clockNow }), syncFor(service, { now: clockNow })];
    cleanups.push(() => syncA.close({ timeoutMs: 5000 }), () => syncB.close({ timeoutMs: 5000 }));
    const [mpaA, mpaB] = [publishGameServerActivity(sdkA, { sync: syncA }), publishGameServerActivity(sdkB, { sync: syncB })];
    cleanups.push(() => mpaA.shutdown(), () => mpaB.shutdown());
    await Promise.all([sdkA.ready(), sdkB.ready()]);

    localA.allocate({ lists: { players: { addValues: [X1, X2] } } });
    await mpaA.applied(allocated);
    await syncA.flush();
    expect(service.activity(X1)).toMatchObject({ groupId: 'gs-a', connectionString: '203.0.113.7:7777' });

    // The matchmaker moves X1 to server B; server A has not noticed yet.
    now += 5000;
    localB.allocate({ lists: { players: { addValues: [X1] } } });
    await mpaB.applied(allocated);
    await syncB.flush();
    expect(service.activity(X1)).toMatchObject({ groupId: 'gs-b', connectionString: '203.0.113.8:7777' });

    // Server A's leave comes late: its DELETE is older than B's PUT, and the service refuses it.
    now += 5000;
    expect(await mpaA.removePlayer(X1)).toBe('removed');
    await mpaA.applied((gs) => !gs.lists.players?.values.includes(X1));
    await syncA.flush();
    expect(service.activity(X1)).toMatchObject({ groupId: 'gs-b', connectionString: '203.0.113.8:7777' });
    expect(syncA.stats().superseded).toBe(1);
    expect(service.activity(X2)).toMatchObject({ groupId: 'gs-a', currentPlayers: 1 });

    // And server A's shutdown later leaves X1 alone too.
    await sdkA.shutdown();
    await mpaA.closed;
    expect(service.activity(X1)).toMatchObject({ groupId: 'gs-b' });
    expect(service.activity(X2)).toBeUndefined();
  });
});
