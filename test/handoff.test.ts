import { afterEach, describe, expect, it } from 'vitest';
import { MpaClient } from '../src/client.js';
import { ActivitySync } from '../src/engine/activity-sync.js';
import { seededRandom } from '../src/random.js';
import { sleep } from '../src/sleep.js';
import { P, rig, settle, type Rig } from './engine-helpers.js';
import { TITLE, TOKEN } from './helpers.js';

let r: Rig | undefined;
afterEach(async () => {
  await r?.dispose();
  r = undefined;
});

describe('two servers, one emulator', () => {
  it('a player who moves keeps the second server’s activity although the first one’s DELETE arrives late', async () => {
    r = await rig();
    const { clock, emulator, sync: serverA } = r;
    // Server B is another process: its own engine and client, the same service.
    const serverB = new ActivitySync({
      client: new MpaClient({ titleId: TITLE, baseUrl: emulator.url, authorization: () => TOKEN, fetch: emulator.fetch }),
      random: seededRandom(2),
    });
    const matchA = serverA.group({ groupId: 'a', connectionString: 'server-a:7777', maxPlayers: 8 });
    const matchB = serverB.group({ groupId: 'b', connectionString: 'server-b:7777', maxPlayers: 8 });
    matchA.join(P(1));
    await settle(clock, serverA.flush());

    // Server A's network is slow: its DELETE takes 5 s to arrive.
    emulator.core.log = [];
    const handle = emulator.core.handle.bind(emulator.core);
    emulator.core.handle = async (request) => {
      if (request.method === 'DELETE') await sleep(5000); // on the fake clock
      return handle(request);
    };
    matchA.leave(P(1));
    await clock.tickAsync(1000);
    matchB.join(P(1));
    await settle(clock, Promise.all([serverA.flush(), serverB.flush()]), 60_000, 100);

    expect(emulator.core.log.map((l) => [l.method, l.status])).toEqual([
      ['PUT', 204],
      ['DELETE', 400],
    ]);
    expect(emulator.activity(P(1))).toMatchObject({ groupId: 'b', connectionString: 'server-b:7777' });
    expect(serverA.stats().superseded).toBe(1);
    expect(serverA.stats().retries).toBe(0);
    await settle(clock, serverB.close(), 60_000, 100);
  });
});

describe('over real loopback HTTP under fake timers', () => {
  it('joins, throttles on Retry-After and leaves through node:http', async () => {
    r = await rig({ transport: 'http' });
    const { clock, emulator, sync } = r;
    const match = sync.group({ groupId: 'h', connectionString: 'c', maxPlayers: 4 });
    emulator.failNext('429', 1, 2);
    match.join(P(1));
    match.join(P(2));
    await settle(clock, sync.flush(), 60_000, 50);
    expect(emulator.activity(P(1))).toMatchObject({ currentPlayers: 2 });
    expect(emulator.activity(P(2))).toMatchObject({ currentPlayers: 2 });
    expect(sync.stats().throttled).toBe(1);
    match.leave(P(1));
    await settle(clock, sync.flush(), 60_000, 50);
    expect(emulator.activity(P(1))).toBeUndefined();
  });
});
