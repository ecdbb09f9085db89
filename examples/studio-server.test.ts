/**
 * How a studio tests its own server's MPA behaviour with `mpa-sync/testing`, on fake timers.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createTestKit, type TestKit } from 'mpa-sync/testing';
import { ArenaRoom } from './colyseus-room.js';

let kit: TestKit;
beforeEach(async () => {
  kit = await createTestKit();
});
afterEach(async () => {
  await kit.dispose();
});

const alice = { sessionId: 'a', auth: { xuid: '2533274800000001' } };
const bob = { sessionId: 'b', auth: { xuid: '2533274800000002' } };

it('publishes the room to friends and locks it when the match starts', async () => {
  const room = new ArenaRoom('room-7', kit.sync, '198.51.100.4:2567');
  room.onCreate({ mode: 'duel' });
  room.onJoin(alice);
  room.onJoin(bob);
  await kit.settle();
  expect(kit.activityOf(alice.auth.xuid)).toMatchObject({ currentPlayers: 2, maxPlayers: 8, joinRestriction: 'Followed', connectionString: '198.51.100.4:2567?room=room-7&mode=duel' });

  room.lock();
  await kit.settle();
  expect(kit.activityOf(bob.auth.xuid)).toMatchObject({ joinRestriction: 'InviteOnly' });
  // Two joins and a lock: the engine folded them into two PUTs per player.
  expect(kit.requestsOf(alice.auth.xuid).map((r) => r.method)).toEqual(['PUT', 'PUT']);
});

it('removes everyone and reports recent players when the room is disposed, even when throttled', async () => {
  const room = new ArenaRoom('room-8', kit.sync, '198.51.100.4:2567');
  room.onCreate({ mode: 'duel' });
  room.onJoin(alice);
  room.onJoin(bob);
  await kit.settle();
  kit.failNext('429', 1, 5);
  await Promise.all([room.onDispose(), kit.advance(10_000)]);
  expect(kit.activityOf(alice.auth.xuid)).toBeUndefined();
  expect(kit.activityOf(bob.auth.xuid)).toBeUndefined();
  expect(kit.throttles).toHaveLength(1);
  expect(kit.emulator.recentPlayerGroups).toMatchObject([{ players: [alice.auth.xuid, bob.auth.xuid], encounterType: 'Opponent' }]);
});
