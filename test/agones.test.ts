/**
 * `mpa-sync/agones` through the real `@google-cloud/agones-sdk` client, against the local SDK
 * server of `mpa-sync/testing` and the emulator, both on loopback.
 */
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { GROUP_ID_KEY, JOIN_RESTRICTION_KEY, publishGameServerActivity, type GameServerActivity, type GameServerActivityOptions } from '../src/agones/index.js';
import type { ActivitySync } from '../src/engine/activity-sync.js';
import { startEmulator, type Emulator } from '../src/emulator/server.js';
import { MpaUsageError, MpaValidationError } from '../src/errors.js';
import { startLocalAgonesSdk, type LocalAgonesSdk, type LocalAgonesSdkOptions } from '../src/testing/index.js';
import { closeSdk, connectSdk, errorsOf, syncFor, X1, X2, X3, type Sdk } from './agones-helpers.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  emulator: Emulator;
  local: LocalAgonesSdk;
  sdk: Sdk;
  sync: ActivitySync;
  mpa: GameServerActivity;
  errors: ReturnType<typeof errorsOf>;
}

async function setup(localOptions: LocalAgonesSdkOptions = {}, options: Omit<GameServerActivityOptions, 'sync'> = {}): Promise<Setup> {
  const emulator = await startEmulator({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => emulator.close());
  const local = await startLocalAgonesSdk({
    ...localOptions,
    gameServer: { name: 'gs-1', state: 'Scheduled', address: '203.0.113.7', ports: [{ name: 'game', port: 7777 }, { name: 'query', port: 27015 }], lists: { players: { capacity: 8 } }, ...localOptions.gameServer },
  });
  cleanups.push(() => local.close());
  const sdk = await connectSdk(local);
  cleanups.push(() => closeSdk(sdk));
  const sync = syncFor(emulator);
  cleanups.push(() => sync.close({ timeoutMs: 5000 }));
  const errors = errorsOf(sync);
  const mpa = publishGameServerActivity(sdk, { sync, port: 'game', ...options });
  cleanups.push(() => mpa.shutdown());
  return { emulator, local, sdk, sync, mpa, errors };
}

const allocated = (gs: { state: string }) => gs.state === 'Allocated';
const listIs = (values: string[]) => (gs: { lists: Record<string, { values: string[] }> }) => JSON.stringify(gs.lists.players?.values) === JSON.stringify(values);

describe('one allocation, one group', () => {
  it('publishes the allocated players with the address and named port, the List capacity, and the join restriction and group id set at allocation', async () => {
    const { local, sdk, sync, mpa, emulator } = await setup();
    await sdk.ready();
    await mpa.applied((gs) => gs.state === 'Ready');
    expect(mpa.group).toBeUndefined();

    local.allocate({ annotations: { [JOIN_RESTRICTION_KEY]: 'InviteOnly', [GROUP_ID_KEY]: 'match-9' }, lists: { players: { addValues: [X1, X2] } } });
    await mpa.applied(allocated);
    await sync.flush();
    for (const xuid of [X1, X2]) {
      expect(emulator.activity(xuid)).toMatchObject({ connectionString: '203.0.113.7:7777', groupId: 'match-9', joinRestriction: 'InviteOnly', maxPlayers: 8, currentPlayers: 2 });
    }
    expect(mpa.group?.members).toEqual([X1, X2]);
  });

  it('follows players who come and go through addPlayer and removePlayer, which write the players List (full and duplicates are answers, not errors)', async () => {
    const { local, sdk, sync, mpa, emulator } = await setup({ gameServer: { lists: { players: { capacity: 2 } } } });
    await sdk.ready();
    local.allocate();
    await mpa.applied(allocated);

    expect(await mpa.addPlayer(X1)).toBe('added');
    expect(await mpa.addPlayer(X1)).toBe('already-present');
    expect(await mpa.addPlayer(X2)).toBe('added');
    expect(await mpa.addPlayer(X3)).toBe('full');
    await mpa.applied(listIs([X1, X2]));
    await sync.flush();
    expect(emulator.activity(X1)).toMatchObject({ currentPlayers: 2, maxPlayers: 2 });
    expect(emulator.activity(X3)).toBeUndefined();

    expect(await mpa.removePlayer(X1)).toBe('removed');
    expect(await mpa.removePlayer(X1)).toBe('absent');
    await mpa.applied(listIs([X2]));
    await sync.flush();
    expect(emulator.activity(X1)).toBeUndefined();
    expect(emulator.activity(X2)).toMatchObject({ currentPlayers: 1 });
    expect(local.gameServer().lists?.players?.values).toEqual([X2]);
  });

  it('changes the join restriction and the group id when their annotations or labels change; a value that is not one is an error event and the default is published', async () => {
    const { local, sdk, sync, mpa, emulator, errors } = await setup({}, { joinRestriction: 'Followed' });
    await sdk.ready();
    local.allocate({ lists: { players: { addValues: [X1] } } });
    await mpa.applied(allocated);
    await sync.flush();
    expect(emulator.activity(X1)).toMatchObject({ joinRestriction: 'Followed', groupId: 'gs-1' });

    local.setLabel(JOIN_RESTRICTION_KEY, 'Public');
    await mpa.applied((gs) => gs.labels[JOIN_RESTRICTION_KEY] === 'Public');
    await sync.flush();
    expect(emulator.activity(X1)).toMatchObject({ joinRestriction: 'Public' });

    // An annotation wins over a label of the same name.
    local.setAnnotation(JOIN_RESTRICTION_KEY, 'Everyone');
    const refused = errors.next('VALIDATION');
    await mpa.applied((gs) => gs.annotations[JOIN_RESTRICTION_KEY] === 'Everyone');
    expect((await refused).error).toBeInstanceOf(MpaValidationError);
    expect((await refused).error.message).toContain(JOIN_RESTRICTION_KEY);
    await sync.flush();
    expect(emulator.activity(X1)).toMatchObject({ joinRestriction: 'Followed' });

    // A new group id moves the members: one PUT each, no DELETE in between.
    const before = emulator.core.log.length;
    local.setAnnotation(GROUP_ID_KEY, 'lobby-2');
    await mpa.applied((gs) => gs.annotations[GROUP_ID_KEY] === 'lobby-2');
    await sync.flush();
    expect(emulator.activity(X1)).toMatchObject({ groupId: 'lobby-2' });
    expect(emulator.core.log.slice(before).map((r) => r.method)).toEqual(['PUT']);
    expect(mpa.group?.groupId).toBe('lobby-2');
    expect(sync.getGroup('gs-1')).toBeUndefined();
  });

  it('a player id that is not an xuid is one typed error event, counted in currentPlayers, and never a crash; an xuid function maps ids', async () => {
    const { local, sdk, sync, mpa, emulator, errors } = await setup();
    await sdk.ready();
    local.allocate({ lists: { players: { addValues: [X1, 'alice'] } } });
    await mpa.applied(allocated);
    await sync.flush();
    expect(emulator.activity(X1)).toMatchObject({ currentPlayers: 2 });
    const refused = errors.seen.filter((e) => e.error.code === 'VALIDATION');
    expect(refused).toHaveLength(1);
    expect((refused[0]!.error as MpaValidationError).issues[0]!.path).toEqual(['players', 'alice']);

    // The same GameServer again (another update) says nothing new.
    local.setLabel('unrelated', 'x');
    await mpa.applied((gs) => gs.labels.unrelated === 'x');
    expect(errors.seen.filter((e) => e.error.code === 'VALIDATION')).toHaveLength(1);

    const known: Record<string, string | null> = { alice: X2, guest: null }; // guest: not an Xbox user
    const mapped = await setup({}, { xuid: (id) => (id in known ? known[id] : id) });
    await mapped.sdk.ready();
    mapped.local.allocate({ lists: { players: { addValues: [X1, 'alice', 'guest'] } } });
    await mapped.mpa.applied(allocated);
    await mapped.sync.flush();
    expect(mapped.emulator.activity(X2)).toMatchObject({ currentPlayers: 3 });
    expect(mapped.mpa.group?.members).toEqual([X1, X2]);
    expect(mapped.errors.seen).toEqual([]);
  });

  it('maxPlayers is the List capacity within MPA’s 2..100 (Agones’ default capacity is 1000), or the option', async () => {
    const big = await setup({ gameServer: { lists: { players: {} } } });
    await big.sdk.ready();
    big.local.allocate({ lists: { players: { addValues: [X1] } } });
    await big.mpa.applied(allocated);
    await big.sync.flush();
    expect(big.emulator.activity(X1)).toMatchObject({ maxPlayers: 100 });

    big.local.setListCapacity('players', 16);
    await big.mpa.applied((gs) => gs.lists.players?.capacity === 16);
    await big.sync.flush();
    expect(big.emulator.activity(X1)).toMatchObject({ maxPlayers: 16 });

    const fixed = await setup({}, { maxPlayers: 4 });
    await fixed.sdk.ready();
    fixed.local.allocate({ lists: { players: { addValues: [X1] } } });
    await fixed.mpa.applied(allocated);
    await fixed.sync.flush();
    expect(fixed.emulator.activity(X1)).toMatchObject({ maxPlayers: 4 });
  });

  it('ends the group when the GameServer returns to Ready, and opens a new one at the next allocation', async () => {
    const { local, sdk, sync, mpa, emulator } = await setup();
    await sdk.ready();
    local.allocate({ lists: { players: { addValues: [X1] } } });
    await mpa.applied(allocated);
    await sync.flush();
    expect(emulator.activity(X1)).toBeDefined();

    await sdk.beta.deleteListValue('players', X1);
    await sdk.ready();
    await mpa.applied((gs) => gs.state === 'Ready');
    await sync.flush();
    expect(mpa.group).toBeUndefined();
    expect(emulator.activities()).toEqual([]);

    local.allocate({ lists: { players: { addValues: [X2] } } });
    await mpa.applied(allocated);
    await sync.flush();
    expect(emulator.activities().map((a) => a.xuid)).toEqual([X2]);
  });

  it('a connection string function of the GameServer replaces address:port', async () => {
    const { local, sdk, sync, mpa, emulator } = await setup({}, { connectionString: (gs) => `${gs.address}:${gs.ports.find((p) => p.name === 'game')?.port}?gs=${gs.name}` });
    await sdk.ready();
    local.allocate({ lists: { players: { addValues: [X1] } } });
    await mpa.applied(allocated);
    await sync.flush();
    expect(emulator.activity(X1)).toMatchObject({ connectionString: '203.0.113.7:7777?gs=gs-1' });
  });

  it('a missing port or list is a USAGE error event naming what to fix, and nothing is published', async () => {
    const { local, sdk, sync, mpa, emulator, errors } = await setup({}, { port: 'gmae', playerList: 'players' });
    await sdk.ready();
    const missing = errors.next('USAGE');
    local.allocate({ lists: { players: { addValues: [X1] } } });
    await mpa.applied(allocated);
    expect((await missing).error.message).toMatch(/no port named gmae \(its ports: game, query\)/);
    await sync.flush();
    expect(emulator.activities()).toEqual([]);

    const noList = await setup({}, { playerList: 'party' });
    await noList.sdk.ready();
    const usage = noList.errors.next('USAGE');
    noList.local.allocate();
    await noList.mpa.applied(allocated);
    expect((await usage).error.message).toMatch(/no list party: declare it under spec\.lists/);
  });
});

describe('alpha player tracking', () => {
  it('reads players and capacity from PlayerConnect / PlayerDisconnect', async () => {
    const { local, sdk, sync, mpa, emulator } = await setup({ featureGates: { PlayerTracking: true }, gameServer: { players: { capacity: 4 } } }, { playerTracking: 'alpha' });
    await sdk.ready();
    local.allocate();
    await mpa.applied(allocated);
    expect(await mpa.addPlayer(X1)).toBe('added');
    expect(await mpa.addPlayer(X1)).toBe('already-present');
    expect(await mpa.addPlayer(X2)).toBe('added');
    await mpa.applied((gs) => gs.players?.ids.length === 2);
    await sync.flush();
    expect(emulator.activity(X2)).toMatchObject({ currentPlayers: 2, maxPlayers: 4 });
    expect(await mpa.removePlayer(X1)).toBe('removed');
    await mpa.applied((gs) => gs.players?.ids.length === 1);
    await sync.flush();
    expect(emulator.activity(X1)).toBeUndefined();
    expect(local.calls).toContain('PlayerConnect');
  });

  it('with the PlayerTracking gate off (Agones’ default), addPlayer rejects with a USAGE error and the missing status is an error event', async () => {
    const { local, sdk, mpa, errors } = await setup({}, { playerTracking: 'alpha' });
    await sdk.ready();
    const missing = errors.next('USAGE');
    local.allocate();
    await mpa.applied(allocated);
    expect((await missing).error.message).toMatch(/PlayerTracking feature gate/);
    const refused = await mpa.addPlayer(X1).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MpaUsageError);
    expect((refused as Error).message).toMatch(/PlayerTracking not enabled/);
  });
});

describe('shutdown', () => {
  it('Shutdown ends the group and closes the sync within the deadline: nothing of the server’s is left on the service', async () => {
    const { local, sdk, sync, mpa, emulator } = await setup({}, { shutdownTimeoutMs: 10_000 });
    await sdk.ready();
    local.allocate({ lists: { players: { addValues: [X1, X2] } } });
    await mpa.applied(allocated);
    await sync.flush();
    expect(emulator.activities()).toHaveLength(2);

    await sdk.shutdown();
    expect(await mpa.closed).toEqual({ undeleted: [] });
    expect(sync.closed).toBe(true);
    expect(emulator.activities()).toEqual([]);
    expect(local.watchers).toBe(0);
    await expect(mpa.addPlayer(X3)).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('a signal from the injected source shuts down the same way; by default no signal listener is installed', async () => {
    const before = process.listenerCount('SIGTERM');
    const signals = new EventEmitter();
    const { local, sdk, sync, mpa, emulator } = await setup({}, { signals: ['SIGTERM'], signalSource: signals });
    expect(process.listenerCount('SIGTERM')).toBe(before);
    await sdk.ready();
    local.allocate({ lists: { players: { addValues: [X1] } } });
    await mpa.applied(allocated);
    await sync.flush();

    signals.emit('SIGTERM');
    expect(await mpa.closed).toEqual({ undeleted: [] });
    expect(emulator.activities()).toEqual([]);
    expect(signals.listenerCount('SIGTERM')).toBe(0);
  });

  it('an Unhealthy GameServer or one being deleted shuts down too', async () => {
    const unhealthy = await setup();
    await unhealthy.sdk.ready();
    unhealthy.local.allocate({ lists: { players: { addValues: [X1] } } });
    await unhealthy.mpa.applied(allocated);
    await unhealthy.sync.flush();
    unhealthy.local.setState('Unhealthy');
    await unhealthy.mpa.closed;
    expect(unhealthy.emulator.activities()).toEqual([]);

    const deleted = await setup();
    await deleted.sdk.ready();
    deleted.local.allocate({ lists: { players: { addValues: [X1] } } });
    await deleted.mpa.applied(allocated);
    deleted.local.markDeleted();
    expect(await deleted.mpa.closed).toEqual({ undeleted: [] });
    expect(deleted.emulator.activities()).toEqual([]);
  });
});

describe('options', () => {
  it('refuses a misspelt option, a missing sync and something that is not an Agones client, naming them', async () => {
    const { sdk, sync } = await setup();
    expect(() => publishGameServerActivity(sdk, { sync, playerlist: 'x' } as never)).toThrow(/playerlist/);
    expect(() => publishGameServerActivity(sdk, {} as never)).toThrow(MpaValidationError);
    expect(() => publishGameServerActivity({} as never, { sync })).toThrow(/sdk must be an AgonesSDK/);
    expect(() => publishGameServerActivity(sdk, { sync, joinRestriction: 'Friends' as never })).toThrow(/joinRestriction/);
    expect(() => publishGameServerActivity(sdk, { sync, shutdownTimeoutMs: -1 })).toThrow(/shutdownTimeoutMs/);
  });
});
