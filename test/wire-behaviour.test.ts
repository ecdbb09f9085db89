import { afterEach, describe, expect, it } from 'vitest';
import { MpaClient } from '../src/client.js';
import { ActivitySync } from '../src/engine/activity-sync.js';
import type { SyncedEvent } from '../src/engine/events.js';
import { seededRandom } from '../src/random.js';
import { P, rig, settle, type Rig } from './engine-helpers.js';
import { TITLE, TOKEN } from './helpers.js';

let r: Rig | undefined;
afterEach(async () => {
  await r?.dispose();
  r = undefined;
});

const settings = { groupId: 'm', connectionString: 'host:7777', maxPlayers: 8 };

async function start(...args: Parameters<typeof rig>) {
  r = await rig(...args);
  return r;
}

describe('no-op elision', () => {
  it('a leave and a join in the same window send nothing to the members whose activity ends up unchanged', async () => {
    const { sync, clock, writesOf } = await start();
    const match = sync.group(settings);
    for (let i = 0; i < 4; i++) match.join(P(i));
    await settle(clock, sync.flush());
    const before = [0, 1, 2].map((i) => writesOf(P(i)).length);
    match.leave(P(3));
    await clock.tickAsync(2000);
    match.join(P(4)); // the count is back to 4
    await clock.tickAsync(60_000);
    expect([0, 1, 2].map((i) => writesOf(P(i)).length)).toEqual(before);
    expect(writesOf(P(3)).map((w) => w.method)).toEqual(['PUT', 'DELETE']);
    expect(writesOf(P(4)).map((w) => w.method)).toEqual(['PUT']);
  });

  it('keep-alives are still sent although the content is unchanged', async () => {
    const { sync, clock, writesOf } = await start({ sync: { keepAliveMs: 600_000 } });
    sync.group(settings).join(P(1));
    await settle(clock, sync.flush());
    await clock.tickAsync(1_800_000);
    expect(writesOf(P(1)).length).toBe(4);
  });
});

describe('joinability first', () => {
  it('a count that makes the match full reaches every member at once; a count that leaves room is paced', async () => {
    const { sync, clock, emulator } = await start();
    const match = sync.group({ ...settings, maxPlayers: 4 });
    match.join(P(0));
    match.join(P(1));
    await settle(clock, sync.flush());
    match.join(P(2)); // 3 of 4: only the count, paced
    await clock.tickAsync(1000);
    expect(emulator.activity(P(0))?.currentPlayers).toBe(2);
    match.join(P(3)); // 4 of 4: friends can no longer join
    await clock.tickAsync(1000);
    for (let i = 0; i < 4; i++) expect(emulator.activity(P(i))?.currentPlayers).toBe(4);
  });

  it('a leave that makes a full match joinable again reaches the others at once', async () => {
    const { sync, clock, emulator } = await start();
    const match = sync.group({ ...settings, maxPlayers: 3 });
    for (let i = 0; i < 3; i++) match.join(P(i));
    await settle(clock, sync.flush());
    await clock.tickAsync(20_000);
    match.leave(P(2));
    await clock.tickAsync(1000);
    expect(emulator.activity(P(0))?.currentPlayers).toBe(2);
    expect(emulator.activity(P(1))?.currentPlayers).toBe(2);
  });

  it('paces a count change by deadline: sent countRefreshIntervalMs after the count first became wrong, with the newest count', async () => {
    const { sync, clock, writesOf, emulator } = await start({ sync: { countRefreshIntervalMs: 10_000 } });
    const match = sync.group({ ...settings, maxPlayers: 50 });
    match.join(P(0));
    await settle(clock, sync.flush());
    await clock.tickAsync(30_000); // P(0)'s last write is old: the deadline still counts from the change
    const changedAt = Date.now();
    for (let i = 1; i <= 5; i++) {
      match.join(P(i));
      await clock.tickAsync(1000);
    }
    await clock.tickAsync(10_000);
    const writes = writesOf(P(0));
    expect(writes).toHaveLength(2);
    expect(writes[1]!.time - changedAt).toBe(10_000);
    expect(emulator.activity(P(0))?.currentPlayers).toBe(6);
  });
});

describe('flush', () => {
  it('sends paced changes now and resolves when the service holds every desired state', async () => {
    const { sync, clock, emulator } = await start();
    const match = sync.group(settings);
    match.join(P(0));
    await settle(clock, sync.flush());
    match.join(P(1)); // P(0)'s count is paced for 15 s
    const started = Date.now();
    const result = await settle(clock, sync.flush(), 60_000, 10);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(result.unsettled).toEqual([]);
    expect(emulator.activity(P(0))?.currentPlayers).toBe(2);
  });

  it('with timeoutMs resolves no later than that while the service is unreachable, naming who is unsettled', async () => {
    const { sync, clock, emulator } = await start();
    emulator.core.handle = async () => ({ kind: 'answer', status: 503, headers: {}, body: '' });
    sync.group(settings).join(P(1));
    const started = Date.now();
    const result = await settle(clock, sync.flush({ timeoutMs: 5000 }), 60_000, 100);
    expect(Date.now() - started).toBeLessThanOrEqual(5000);
    expect(result.unsettled).toEqual([{ xuid: P(1), groupId: 'm', state: 'updating' }]);
  });

  it('counts, not scans: after 2,000 simultaneous joins it resolves when the last one is synced', async () => {
    const { sync, clock } = await start();
    const match = sync.group({ ...settings, maxPlayers: 100 });
    const groups = Array.from({ length: 250 }, (_, g) => sync.group({ ...settings, groupId: `g${g}` }));
    let synced = 0;
    sync.on('synced', () => synced++);
    for (let i = 0; i < 2000; i++) groups[i % 250]!.join(P(i));
    await settle(clock, sync.flush(), 600_000, 100);
    expect(synced).toBeGreaterThanOrEqual(2000);
    expect(sync.stats()).toMatchObject({ pending: 0, inFlight: 0 });
    expect(match.members).toEqual([]);
  }, 60_000);
});

describe('a late DELETE cannot erase a newer writer', () => {
  it('a leave reaching server A after the join on server B was written leaves B’s activity', async () => {
    const { clock, emulator, sync: serverA, writesOf } = await start();
    const serverB = new ActivitySync({ client: new MpaClient({ titleId: TITLE, baseUrl: emulator.url, authorization: () => TOKEN, fetch: emulator.fetch }), random: seededRandom(2) });
    const matchA = serverA.group({ groupId: 'a', connectionString: 'server-a:7777', maxPlayers: 8 });
    const matchB = serverB.group({ groupId: 'b', connectionString: 'server-b:7777', maxPlayers: 8 });
    matchA.join(P(1));
    await settle(clock, serverA.flush());
    await clock.tickAsync(5000);
    matchB.join(P(1)); // the player moved; B writes first...
    await settle(clock, serverB.flush());
    await clock.tickAsync(5000);
    matchA.leave(P(1)); // ...and A hears of the leave only now
    await settle(clock, serverA.flush());
    expect(writesOf(P(1)).map((w) => `${w.method} ${w.status}`)).toEqual(['PUT 204', 'PUT 204', 'DELETE 400']);
    expect(emulator.activity(P(1))).toMatchObject({ groupId: 'b', connectionString: 'server-b:7777' });
    expect(serverA.stats()).toMatchObject({ superseded: 1, retries: 0 });
    const [putA, , del] = writesOf(P(1));
    expect(del!.seq).toBe(putA!.seq! + 1n);
    await settle(clock, serverB.close(), 60_000, 100);
  });
});

describe('nothing silently left behind', () => {
  /** The first PUT lands, but the answer is a 500: the engine cannot know it landed. */
  function landedThen500(rr: Rig) {
    const handle = rr.emulator.core.handle.bind(rr.emulator.core);
    let landed = false;
    rr.emulator.core.handle = async (request) => {
      if (request.method === 'PUT' && !landed) {
        landed = true;
        await handle(request);
        return { kind: 'answer', status: 500, headers: {}, body: '' };
      }
      return handle(request);
    };
  }

  it('after an attempt that failed but landed, the retry carries a higher number: accepted, never taken for a newer writer', async () => {
    const rr = await start();
    landedThen500(rr);
    rr.sync.group(settings).join(P(1));
    await settle(rr.clock, rr.sync.flush(), 600_000, 100);
    const verbs = rr.requests.filter((q) => q.xuid === P(1)).map((q) => `${q.method} ${q.status}`);
    expect(verbs).toEqual(['PUT 500', 'PUT 204']);
    const [first, second] = rr.writesOf(P(1));
    expect(second!.seq!).toBeGreaterThan(first!.seq!);
    expect(rr.sync.playerState(P(1))).toBe('active');
    expect(rr.sync.stats().superseded).toBe(0);
    rr.sync.getGroup('m')!.leave(P(1));
    await settle(rr.clock, rr.sync.flush(), 600_000, 100);
    expect(rr.emulator.activity(P(1))).toBeUndefined();
  });

  it('a leave after an attempt that may have landed sends the DELETE', async () => {
    const rr = await start();
    rr.emulator.core.handle = async () => ({ kind: 'answer', status: 500, headers: {}, body: '' });
    const match = rr.sync.group(settings);
    match.join(P(1));
    await rr.clock.tickAsync(100); // PUT 500: may have landed
    match.leave(P(1));
    await rr.clock.tickAsync(100_000);
    expect(rr.requests.filter((q) => q.xuid === P(1)).map((q) => q.method)).toContain('DELETE');
  });

  it('close() lists a player whose PUT is still in flight', async () => {
    const rr = await start();
    rr.emulator.core.handle = async () => ({ kind: 'hang' });
    rr.sync.group(settings).join(P(1));
    await rr.clock.tickAsync(10);
    const result = await settle(rr.clock, rr.sync.close({ timeoutMs: 1000 }), 20_000, 100);
    expect(result.undeleted).toEqual([{ xuid: P(1), groupId: 'm' }]);
  });
});

describe('staleness', () => {
  it('synced carries stalenessMs: time from the first difference to the service accepting it', async () => {
    const { sync, clock } = await start({ emulator: { latencyMs: 300 } });
    const synced: SyncedEvent[] = [];
    sync.on('synced', (e) => synced.push(e));
    const match = sync.group(settings);
    match.join(P(0));
    await settle(clock, sync.flush(), 60_000, 100);
    match.join(P(1));
    await clock.tickAsync(20_000);
    const first = synced.filter((e) => e.xuid === P(0));
    expect(first[0]!.stalenessMs).toBe(300);
    expect(first[1]!.stalenessMs).toBe(15_300);
  });
});
