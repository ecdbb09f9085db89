/**
 * The local Agones SDK server of `mpa-sync/testing`, driven by the real
 * `@google-cloud/agones-sdk` client: what a studio's own tests rely on.
 */
import { createClock } from '@sinonjs/fake-timers';
import { afterEach, describe, expect, it } from 'vitest';
import { MpaUsageError, MpaValidationError } from '../src/errors.js';
import { startLocalAgonesSdk, type LocalAgonesSdkOptions } from '../src/testing/index.js';
import { closeSdk, connectSdk, X1, X2, type Sdk } from './agones-helpers.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(options: LocalAgonesSdkOptions = {}) {
  const local = await startLocalAgonesSdk(options);
  cleanups.push(() => local.close());
  const sdk = await connectSdk(local);
  cleanups.push(() => closeSdk(sdk));
  return { local, sdk };
}

/** What a gRPC call failed with: status code and message, as the client sees them. */
async function failure(call: Promise<unknown>): Promise<{ code: number; details: string }> {
  const error = (await call.then(
    () => undefined,
    (e: unknown) => e,
  )) as { code: number; details: string } | undefined;
  expect(error, 'the call should have failed').toBeDefined();
  return { code: error!.code, details: error!.details };
}

/** The GameServers a watch receives, and a wait for the next one that matches. */
function watch(sdk: Sdk) {
  const seen: { state: string; labels: [string, string][] }[] = [];
  const waiting: { predicate: (gs: { state: string }) => boolean; resolve: () => void }[] = [];
  sdk.watchGameServer(
    (gs) => {
      seen.push({ state: gs.status.state, labels: gs.objectMeta.labelsMap });
      for (const w of waiting.splice(0)) if (w.predicate({ state: gs.status.state })) w.resolve();
      else waiting.push(w);
    },
    () => undefined,
  );
  return {
    seen,
    until: (predicate: (gs: { state: string }) => boolean) => new Promise<void>((resolve) => (seen.some(predicate) ? resolve() : waiting.push({ predicate, resolve }))),
  };
}

/** `status.players`, which the client's types leave out. */
const playersOf = (gs: { status: object }) => (gs.status as { players?: unknown }).players;

const UNKNOWN = 2;
const INVALID_ARGUMENT = 3;

describe('GameServer state', () => {
  it('starts Ready like Agones’ local mode, named local, on 127.0.0.1:7777, with its labels, annotations, counters and lists (map fields the generated code cannot write)', async () => {
    const { sdk } = await start();
    const gs = await sdk.getGameServer();
    expect(gs.objectMeta).toMatchObject({ name: 'local', namespace: 'default', uid: '1234', labelsMap: [['islocal', 'true']], annotationsMap: [['annotation', 'true']] });
    expect(gs.status).toMatchObject({ state: 'Ready', address: '127.0.0.1', portsList: [{ name: 'default', port: 7777 }] });
    expect((gs.status as unknown as { listsMap: unknown }).listsMap).toEqual([['players', { capacity: 100, valuesList: [] }]]);
    expect((gs.status as unknown as { countersMap: unknown }).countersMap).toEqual([['rooms', { count: 1, capacity: 10 }]]);
  });

  it('Ready, Allocate (with agones.dev/last-allocated), Shutdown; nothing leaves Shutdown; the watch sends the current GameServer first, then every change', async () => {
    const now = Date.parse('2026-03-01T12:00:00Z');
    const { local, sdk } = await start({ gameServer: { state: 'Scheduled' }, now: () => now });
    const w = watch(sdk);
    await sdk.ready();
    await sdk.allocate();
    expect((await sdk.getGameServer()).objectMeta.annotationsMap).toContainEqual(['agones.dev/last-allocated', '2026-03-01T12:00:00.000Z']);
    await sdk.shutdown();
    await sdk.ready();
    await w.until((gs) => gs.state === 'Shutdown');
    expect(w.seen.map((g) => g.state)).toEqual(['Scheduled', 'Ready', 'Allocated', 'Shutdown']);
    expect(local.gameServer().state).toBe('Shutdown');
    expect(local.calls).toEqual(['WatchGameServer', 'Ready', 'Allocate', 'GetGameServer', 'Shutdown', 'Ready']);
  });

  it('Reserve(n) returns to Ready after n seconds on the injected clock', async () => {
    const clock = createClock(Date.parse('2026-03-01T12:00:00Z'));
    const { local, sdk } = await start({ clock });
    await sdk.reserve(10);
    expect(local.gameServer().state).toBe('Reserved');
    await clock.tickAsync(9_999);
    expect(local.gameServer().state).toBe('Reserved');
    await clock.tickAsync(1);
    expect(local.gameServer().state).toBe('Ready');
  });

  it('allocation from outside sets labels, annotations and list values; only a Ready or Allocated GameServer can be allocated', async () => {
    const { local, sdk } = await start({ gameServer: { lists: { players: { capacity: 2 } } } });
    local.allocate({ labels: { mode: 'ranked' }, annotations: { 'mpa-sync/group-id': 'm-1' }, lists: { players: { addValues: [X1, X1, X2, '2533274800000003'] } } });
    const gs = await sdk.getGameServer();
    expect(gs.status.state).toBe('Allocated');
    expect(gs.objectMeta.labelsMap).toContainEqual(['mode', 'ranked']);
    expect(gs.objectMeta.annotationsMap).toContainEqual(['mpa-sync/group-id', 'm-1']);
    expect(await sdk.beta.getListValues('players')).toEqual([X1, X2]); // duplicates and values past capacity dropped
    local.setState('Unhealthy');
    expect(() => local.allocate()).toThrow(MpaUsageError);
  });

  it('counts health pings', async () => {
    const { local, sdk } = await start();
    sdk.health(() => undefined);
    sdk.health(() => undefined);
    await sdk.getGameServer();
    await expect.poll(() => local.healthPings).toBe(2);
  });
});

describe('labels and annotations', () => {
  it('SDK keys get Agones’ agones.dev/sdk- prefix; an invalid key is INVALID_ARGUMENT', async () => {
    const { local, sdk } = await start();
    await sdk.setLabel('mode', 'ranked');
    await sdk.setAnnotation('note', 'any value at all: spaces, colons');
    expect(local.gameServer().labels).toMatchObject({ 'agones.dev/sdk-mode': 'ranked' });
    expect(local.gameServer().annotations).toMatchObject({ 'agones.dev/sdk-note': 'any value at all: spaces, colons' });
    expect(await failure(sdk.setLabel('a/b/c', 'x'))).toMatchObject({ code: INVALID_ARGUMENT });
    expect(await failure(sdk.setLabel('ok', 'not valid!'))).toMatchObject({ code: INVALID_ARGUMENT, details: expect.stringContaining('invalid label value') });
    expect(await failure(sdk.setAnnotation('-bad', 'x'))).toMatchObject({ code: INVALID_ARGUMENT, details: expect.stringContaining('invalid annotation key') });
  });
});

describe('Counters and Lists (beta)', () => {
  it('refuses as gRPC UNKNOWN with the SDK server’s own messages: full, already there, not there, no such list', async () => {
    const { sdk } = await start({ gameServer: { lists: { players: { capacity: 1 } } } });
    await sdk.beta.appendListValue('players', X1);
    expect(await failure(sdk.beta.appendListValue('players', X2))).toEqual({ code: UNKNOWN, details: 'out of range. No available capacity. Current Capacity: 1, List Size: 1' });
    expect(await failure(sdk.beta.deleteListValue('players', X2))).toEqual({ code: UNKNOWN, details: `not found: value ${X2} not in list players` });
    expect(await failure(sdk.beta.getListValues('party'))).toEqual({ code: UNKNOWN, details: 'list not found: party' });
    await sdk.beta.deleteListValue('players', X1);
    await sdk.beta.appendListValue('players', X1);
    expect(await failure(sdk.beta.appendListValue('players', X1))).toMatchObject({ code: UNKNOWN, details: expect.stringMatching(/^out of range/) });
  });

  it('a duplicate in a list with room is "already exists"', async () => {
    const { sdk } = await start();
    await sdk.beta.appendListValue('players', X1);
    expect(await failure(sdk.beta.appendListValue('players', X1))).toEqual({ code: UNKNOWN, details: `already exists. Value: ${X1} already in List: players` });
  });

  it('the Node client’s setListCapacity changes nothing, as on a cluster (its update mask is empty); capacity comes from the spec or the test', async () => {
    const { local, sdk } = await start({ gameServer: { lists: { players: { capacity: 4 } } } });
    await sdk.beta.setListCapacity('players', 10);
    expect(await sdk.beta.getListCapacity('players')).toBe(4);
    local.setListCapacity('players', 10);
    expect(await sdk.beta.getListCapacity('players')).toBe(10);
    expect(() => local.setListCapacity('players', 1001)).toThrow(MpaValidationError);
  });

  it('counters count within their capacity', async () => {
    const { sdk } = await start();
    await sdk.beta.incrementCounter('rooms', 2);
    expect(await sdk.beta.getCounterCount('rooms')).toBe(3);
    expect(await failure(sdk.beta.incrementCounter('rooms', 20))).toMatchObject({ code: UNKNOWN, details: expect.stringMatching(/^out of range\. Count must be within range \[0,Capacity\]/) });
    expect(await failure(sdk.beta.getCounterCount('matches'))).toEqual({ code: UNKNOWN, details: 'counter not found: matches' });
  });

  it('with the CountsAndLists gate off there are no lists, and every beta call says so', async () => {
    const { sdk } = await start({ featureGates: { CountsAndLists: false } });
    expect((await sdk.getGameServer()).status).toMatchObject({ listsMap: [], countersMap: [] });
    expect(await failure(sdk.beta.getListValues('players'))).toEqual({ code: UNKNOWN, details: 'CountsAndLists not enabled' });
  });
});

describe('player tracking (alpha)', () => {
  it('is off by default, as in Agones 1.61: every call is UNKNOWN "PlayerTracking not enabled"', async () => {
    const { sdk } = await start();
    expect(await failure(sdk.alpha.playerConnect(X1))).toEqual({ code: UNKNOWN, details: 'PlayerTracking not enabled' });
    expect(playersOf(await sdk.getGameServer())).toBeUndefined();
  });

  it('with the gate on: connect, disconnect, capacity, count; connecting past capacity is refused', async () => {
    const { local, sdk } = await start({ featureGates: { PlayerTracking: true }, gameServer: { players: { capacity: 1 } } });
    expect(await sdk.alpha.playerConnect(X1)).toBe(true);
    expect(await sdk.alpha.playerConnect(X1)).toBe(false);
    expect(await failure(sdk.alpha.playerConnect(X2))).toEqual({ code: UNKNOWN, details: 'players are already at capacity' });
    await sdk.alpha.setPlayerCapacity(3);
    expect(await sdk.alpha.getPlayerCapacity()).toBe(3);
    expect(await sdk.alpha.playerConnect(X2)).toBe(true);
    expect(await sdk.alpha.getConnectedPlayers()).toEqual([X1, X2]);
    expect(await sdk.alpha.isPlayerConnected(X2)).toBe(true);
    expect(await sdk.alpha.playerDisconnect(X1)).toBe(true);
    expect(await sdk.alpha.playerDisconnect(X1)).toBe(false);
    expect(await sdk.alpha.getPlayerCount()).toBe(1);
    expect(playersOf(await sdk.getGameServer())).toEqual({ count: 1, capacity: 3, idsList: [X2] });
    expect(local.gameServer().players).toEqual({ count: 1, capacity: 3, ids: [X2] });
  });
});

describe('the server itself', () => {
  it('listens on loopback only, and refuses other addresses and unknown options', async () => {
    await expect(startLocalAgonesSdk({ host: '0.0.0.0' })).rejects.toThrow(MpaValidationError);
    await expect(startLocalAgonesSdk({ prot: 9357 } as never)).rejects.toThrow(/prot/);
    const { local } = await start();
    expect(local.address).toBe(`127.0.0.1:${local.port}`);
  });

  it('interrupt() cuts every stream and stops listening; resume() serves the same GameServer on the same port', async () => {
    const { local, sdk } = await start();
    const broken = new Promise<unknown>((resolve) => sdk.watchGameServer(() => undefined, resolve));
    await expect.poll(() => local.watchers).toBe(1);
    local.setLabel('before', 'yes');
    await local.interrupt();
    expect(await broken).toMatchObject({ code: expect.any(Number) });
    expect(local.watchers).toBe(0);
    await local.resume();
    await sdk.connect();
    expect((await sdk.getGameServer()).objectMeta.labelsMap).toContainEqual(['before', 'yes']);
  });
});
