/**
 * How a studio tests its own Colyseus server's MPA behaviour: the real server from
 * examples/colyseus-server.ts on loopback, real @colyseus/sdk clients, the mpa-sync emulator.
 */
import { Client as SdkClient, type Room as SdkRoom } from '@colyseus/sdk';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { ActivitySync, MpaClient, type SyncEvent } from 'mpa-sync';
import { startEmulator, type Emulator } from 'mpa-sync/emulator';
import { startArenaServer } from './colyseus-server.js';

const ALICE = '2533274800000001';
const BOB = '2533274800000002';

let emulator: Emulator;
let sync: ActivitySync;
let arena: Awaited<ReturnType<typeof startArenaServer>>;
const errors: SyncEvent<'error'>[] = [];
const requests: SyncEvent<'request'>[] = [];
let alice: SdkRoom;
let bob: SdkRoom;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, host: '127.0.0.1' });
  sync = new ActivitySync({ client: new MpaClient({ titleId: 1234567890, baseUrl: emulator.url, authorization: () => 'XBL3.0 x=1;studio-test' }) });
  sync.on('error', (e) => errors.push(e));
  sync.on('request', (e) => requests.push(e));
  arena = await startArenaServer({ sync, port: 0, publicAddress: '198.51.100.4:2567' });
});
afterAll(async () => {
  await emulator?.close();
});

it('publishes both players of a room to their friends, and locks it when the match starts', { timeout: 20_000 }, async () => {
  alice = await new SdkClient(arena.url).joinOrCreate('arena', { xuid: ALICE });
  bob = await new SdkClient(arena.url).joinById(alice.roomId, { xuid: BOB });
  await vi.waitFor(() => {
    // Bob's PUT carries the count he joined into; Alice's count follows within countRefreshIntervalMs.
    expect(emulator.activity(BOB)).toMatchObject({ currentPlayers: 2, maxPlayers: 8, joinRestriction: 'Followed', connectionString: `198.51.100.4:2567?roomId=${alice.roomId}` });
  }, { timeout: 5_000 });
  alice.send('start');
  await vi.waitFor(() => {
    expect(emulator.activity(ALICE)?.joinRestriction).toBe('InviteOnly');
    expect(emulator.activity(BOB)?.joinRestriction).toBe('InviteOnly');
  }, { timeout: 5_000 });
});

it('refuses a player whose xuid is not valid when they join', async () => {
  await expect(new SdkClient(arena.url).joinOrCreate('arena', { xuid: '12ab' })).rejects.toThrow(/Xbox user id is not valid/);
});

it('stops in the right order: rooms first (activities deleted, recent players reported), then the sync', { timeout: 20_000 }, async () => {
  const before = requests.length;
  const { undeleted } = await arena.stop();
  expect(undeleted).toEqual([]);
  expect(emulator.activities()).toEqual([]);
  expect(emulator.core.recentPlayerGroups).toMatchObject([{ players: expect.arrayContaining([ALICE, BOB]), encounterType: 'Opponent' }]);
  // Colyseus locks every room as it shuts down; that costs no PUT, only the DELETEs and the report.
  expect(requests.slice(before).map((r) => r.method).sort()).toEqual(['DELETE', 'DELETE', 'POST']);
  expect(errors).toEqual([]);
});
