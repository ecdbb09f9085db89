import { afterEach, describe, expect, it } from 'vitest';
import { MpaClient } from '../src/client.js';
import { ActivitySync } from '../src/engine/activity-sync.js';
import { MpaClosedError, MpaUsageError, MpaValidationError } from '../src/errors.js';
import type { ErrorEvent, RetryEvent, ThrottledEvent } from '../src/engine/events.js';
import { xboxSequenceNumber } from '../src/sequence.js';
import { P, rig, settle, type Rig } from './engine-helpers.js';
import { TITLE, TOKEN } from './helpers.js';

let r: Rig | undefined;
afterEach(async () => {
  await r?.dispose();
  r = undefined;
});

const settings = { groupId: 'match-42', connectionString: '203.0.113.7:7777?m=42', maxPlayers: 8, joinRestriction: 'Followed' as const };

async function start(...args: Parameters<typeof rig>) {
  r = await rig(...args);
  return r;
}

describe('ActivitySync: the basic lifecycle', () => {
  it('join PUTs, a settings change PUTs every member, leave DELETEs; currentPlayers follows the members', async () => {
    const { sync, clock, emulator } = await start();
    const match = sync.group(settings);
    match.join(P(1));
    match.join(P(2));
    await settle(clock, sync.flush());
    expect(emulator.activity(P(1))).toMatchObject({ connectionString: settings.connectionString, joinRestriction: 'Followed', maxPlayers: 8, currentPlayers: 2, groupId: 'match-42' });
    expect(emulator.activity(P(2))).toMatchObject({ currentPlayers: 2 });

    match.update({ joinRestriction: 'InviteOnly', platform: 'XboxOne' });
    await settle(clock, sync.flush());
    expect(emulator.activity(P(1))).toMatchObject({ joinRestriction: 'InviteOnly', platform: 'XboxOne' });
    expect(emulator.activity(P(2))).toMatchObject({ joinRestriction: 'InviteOnly', platform: 'XboxOne' });

    match.leave(P(1));
    await settle(clock, sync.flush());
    expect(emulator.activity(P(1))).toBeUndefined();
    expect(emulator.activity(P(2))).toMatchObject({ currentPlayers: 1 });
    expect(sync.stats()).toMatchObject({ players: 1, groups: 1, inFlight: 0, pending: 0, throttled: 0 });
  });

  it('emits state and synced events with the chart’s names: idle, updating, active, leaving, gone', async () => {
    const { sync, clock } = await start();
    const states: string[] = [];
    const synced: string[] = [];
    sync.on('state', (e) => states.push(`${e.previous}>${e.state}`));
    sync.on('synced', (e) => synced.push(`${e.method} ${e.xuid} ${e.groupId}`));
    const match = sync.group(settings);
    match.join(P(1));
    await settle(clock, sync.flush());
    expect(sync.playerState(P(1))).toBe('active');
    match.leave(P(1));
    await settle(clock, sync.flush());
    expect(states).toEqual(['idle>updating', 'updating>active', 'active>leaving', 'leaving>gone']);
    expect(synced).toEqual([`PUT ${P(1)} match-42`, `DELETE ${P(1)} match-42`]);
    expect(sync.playerState(P(1))).toBeUndefined();
  });

  it('counts cross-play players through extraPlayers', async () => {
    const { sync, clock, emulator } = await start();
    const match = sync.group({ ...settings, extraPlayers: 3 });
    match.join(P(1));
    await settle(clock, sync.flush());
    expect(emulator.activity(P(1))?.currentPlayers).toBe(4);
    match.update({ extraPlayers: 1 });
    await settle(clock, sync.flush());
    expect(emulator.activity(P(1))?.currentPlayers).toBe(2);
  });

  it('a player who joins and leaves before anything was sent causes no request', async () => {
    const { sync, clock, emulator } = await start();
    const match = sync.group(settings);
    match.join(P(1));
    match.leave(P(1));
    await settle(clock, sync.flush());
    expect(emulator.core.log).toEqual([]);
    expect(sync.stats()).toMatchObject({ players: 0, coalesced: 1 });
  });

  it('coalesces: one request in flight, the newest pending state wins', async () => {
    const { sync, clock, emulator } = await start({ emulator: { latencyMs: 500 } });
    const match = sync.group(settings);
    match.join(P(1));
    await clock.tickAsync(100); // the join is in flight
    for (let i = 2; i <= 6; i++) match.join(P(i));
    await settle(clock, sync.flush());
    const writes = emulator.core.log.filter((l) => l.xuid === P(1));
    // The join, then one PUT carrying the newest count instead of five.
    expect(writes.map((w) => (w.body as { currentPlayers: number }).currentPlayers)).toEqual([1, 6]);
    expect(emulator.core.counters.maxConcurrentPerUser).toBe(1);
    expect(sync.stats().coalesced).toBeGreaterThanOrEqual(3);
  });

  it('a burst of joins: every member waiting in the queue is written once, with the final count', async () => {
    const { sync, clock, emulator } = await start({ sync: { concurrency: 1, countRefreshIntervalMs: 0 } });
    const states: string[] = [];
    sync.on('state', (e) => e.xuid === P(1) && states.push(e.state));
    const match = sync.group(settings);
    for (let i = 1; i <= 8; i++) match.join(P(i));
    await settle(clock, sync.flush());
    for (let i = 1; i <= 8; i++) {
      const writes = emulator.core.log.filter((l) => l.xuid === P(i));
      expect(writes.map((w) => (w.body as { currentPlayers: number }).currentPlayers)).toEqual([8]);
    }
    expect(states).toEqual(['updating', 'active']);
  });

  it('a join and the count changes after it in the same tick reach the chart as one join; reading the state hands it over', async () => {
    const { sync, clock, emulator, writesOf } = await start({ sync: { countRefreshIntervalMs: 0 } });
    const states: string[] = [];
    sync.on('state', (e) => states.push(`${e.xuid} ${e.previous}>${e.state}`));
    const match = sync.group(settings);
    match.join(P(1));
    match.join(P(2));
    match.join(P(3));
    // Reading a player's state hands its held join to the chart first.
    expect(sync.playerState(P(3))).toBe('updating');
    expect(sync.stats().pending).toBe(3);
    await settle(clock, sync.flush());
    for (const i of [1, 2, 3]) expect(writesOf(P(i)).map((w) => w.method)).toEqual(['PUT']);
    expect(emulator.activity(P(1))).toMatchObject({ currentPlayers: 3 });
    expect(states.filter((s) => s.startsWith(P(1)))).toEqual([`${P(1)} idle>updating`, `${P(1)} updating>active`]);
  });

  it('a superseded player who joins again, with a count change in the same tick, is published again (the merged change stays a join)', async () => {
    const { sync, clock, client, emulator } = await start({ sync: { countRefreshIntervalMs: 0 } });
    const a = sync.group(settings);
    a.join(P(1));
    await settle(clock, sync.flush());
    // Another writer (the player's console, another server) took the activity: our next write is refused as stale.
    await client.setActivity(P(1), { connectionString: 'elsewhere', joinRestriction: 'Public', sequenceNumber: xboxSequenceNumber(Date.now()) + 1n });
    a.update({ maxPlayers: 10 });
    await settle(clock, sync.flush());
    expect(sync.stats().superseded).toBe(1);
    expect(sync.playerState(P(1))).toBe('idle');
    // The player comes back to this server, into a match that another player joins at once.
    await clock.tickAsync(60_000);
    const b = sync.group({ ...settings, groupId: 'match-43', connectionString: 'back' });
    b.join(P(1));
    b.join(P(2));
    await settle(clock, sync.flush());
    expect(emulator.activity(P(1))).toMatchObject({ connectionString: 'back', groupId: 'match-43', currentPlayers: 2 });
  });

  it('a count change for a queued write never outlives a second join: the write carries the newest group', async () => {
    const { sync, clock, emulator, writesOf } = await start({ sync: { concurrency: 1, countRefreshIntervalMs: 0 } });
    const a = sync.group(settings);
    const b = sync.group({ ...settings, groupId: 'match-43', connectionString: 'b' });
    a.join(P(1));
    a.join(P(2)); // a count change for P(1), whose write waits
    b.join(P(1)); // in the same tick
    await settle(clock, sync.flush());
    expect(writesOf(P(1)).map((w) => w.method)).toEqual(['PUT']);
    expect(emulator.activity(P(1))).toMatchObject({ groupId: 'match-43', connectionString: 'b', currentPlayers: 1 });
    // P(1) is still in the first group, which counts them.
    expect(emulator.activity(P(2))).toMatchObject({ groupId: 'match-42', currentPlayers: 2 });
  });

  it('a leave replaces a pending PUT, and a re-join after a leave works', async () => {
    const { sync, clock, emulator, writesOf } = await start({ emulator: { latencyMs: 500 } });
    const match = sync.group(settings);
    match.join(P(1));
    await clock.tickAsync(100);
    match.join(P(2)); // count refresh for P(1), pending
    match.leave(P(1)); // replaces it
    await settle(clock, sync.flush());
    expect(writesOf(P(1)).map((w) => w.method)).toEqual(['PUT', 'DELETE']);
    match.join(P(1));
    await settle(clock, sync.flush());
    expect(emulator.activity(P(1))).toMatchObject({ currentPlayers: 2 });
  });

  it('a player in two groups shows the one joined last, falls back to the other when it ends, and both count them', async () => {
    const { sync, clock, emulator, writesOf } = await start();
    const lobby = sync.group({ ...settings, groupId: 'lobby', connectionString: 'lobby' });
    const match = sync.group({ ...settings, groupId: 'match-43', connectionString: 'match' });
    lobby.join(P(1));
    lobby.join(P(2));
    await settle(clock, sync.flush());
    match.join(P(1));
    await settle(clock, sync.flush());
    expect(lobby.members).toEqual([P(1), P(2)]);
    expect(lobby.currentPlayers).toBe(2);
    expect(emulator.activity(P(1))).toMatchObject({ groupId: 'match-43', connectionString: 'match', currentPlayers: 1 });
    expect(emulator.activity(P(2))).toMatchObject({ groupId: 'lobby', currentPlayers: 2 });
    // A change in the lobby is kept for when it shows again, not written over the match.
    lobby.update({ joinRestriction: 'InviteOnly' });
    await settle(clock, sync.flush());
    expect(emulator.activity(P(1))).toMatchObject({ groupId: 'match-43', joinRestriction: 'Followed' });
    await match.close();
    await settle(clock, sync.flush());
    expect(emulator.activity(P(1))).toMatchObject({ groupId: 'lobby', connectionString: 'lobby', joinRestriction: 'InviteOnly', currentPlayers: 2 });
    expect(writesOf(P(1)).map((w) => w.method)).not.toContain('DELETE');
    lobby.leave(P(1));
    await settle(clock, sync.flush());
    expect(emulator.activity(P(1))).toBeUndefined();
  });

  it('stamps sequence numbers on the SDK scale when the change happens, strictly increasing', async () => {
    const { sync, clock, writesOf } = await start({ emulator: { latencyMs: 2000 } });
    const match = sync.group(settings);
    const joinedAt = Date.now();
    match.join(P(1));
    await clock.tickAsync(10_000);
    match.update({ maxPlayers: 10 });
    match.leave(P(1));
    await settle(clock, sync.flush());
    const writes = writesOf(P(1));
    expect(writes[0]!.seq).toBe(xboxSequenceNumber(joinedAt));
    for (let i = 1; i < writes.length; i++) expect(writes[i]!.seq! > writes[i - 1]!.seq!).toBe(true);
  });
});

describe('ActivitySync: budgets and priorities', () => {
  it('plans within the per-user windows: 40 count changes in a few seconds, never a 429', async () => {
    const { sync, clock, emulator, writesOf } = await start();
    const match = sync.group({ ...settings, maxPlayers: 100 });
    match.join(P(0));
    for (let i = 1; i <= 40; i++) {
      match.join(P(i));
      await clock.tickAsync(100);
    }
    await settle(clock, sync.flush());
    expect(emulator.core.counters.throttled).toBe(0);
    expect(emulator.activity(P(0))?.currentPlayers).toBe(41);
    // Never more than 10 writes in any 15 s for one player.
    const times = writesOf(P(0)).map((w) => w.time);
    for (let i = 10; i < times.length; i++) expect(times[i]! - times[i - 10]!).toBeGreaterThanOrEqual(15_000);
  });

  it('count refreshes keep one write in reserve, so a leave is not held back', async () => {
    const { sync, clock, emulator, writesOf } = await start({
      sync: { budgets: { write: { burst: 3, sustain: 100 } }, countRefreshIntervalMs: 0 },
      emulator: { rateLimits: { write: { burst: 3, sustain: 100 } } },
    });
    const match = sync.group({ ...settings, maxPlayers: 100 });
    match.join(P(0));
    await clock.tickAsync(10);
    match.join(P(1));
    await clock.tickAsync(10);
    match.join(P(2)); // P(0) has used 2 of 3: the count refresh must wait, keeping the last write
    await clock.tickAsync(1000);
    expect(writesOf(P(0))).toHaveLength(2);
    match.leave(P(0));
    await clock.tickAsync(100);
    expect(writesOf(P(0)).map((w) => w.method)).toEqual(['PUT', 'PUT', 'DELETE']);
    await settle(clock, sync.flush());
    expect(emulator.core.counters.throttled).toBe(0);
  });

  it('paces count-only refreshes: arrivals within countRefreshIntervalMs fold into one PUT per player', async () => {
    const { sync, clock, emulator, writesOf } = await start({ sync: { countRefreshIntervalMs: 15_000 } });
    const match = sync.group({ ...settings, maxPlayers: 100 });
    match.join(P(0));
    await clock.tickAsync(100);
    for (let i = 1; i <= 10; i++) {
      match.join(P(i));
      await clock.tickAsync(1000);
    }
    // The first player: its join, then one refresh 15 s after its published count first became
    // wrong (the second join, 100 ms later), carrying every arrival.
    await clock.tickAsync(5000);
    expect(writesOf(P(0)).map((w) => w.time - writesOf(P(0))[0]!.time)).toEqual([0, 15_100]);
    expect(emulator.activity(P(0))?.currentPlayers).toBe(11);
    // A settings change is not paced.
    match.update({ joinRestriction: 'InviteOnly' });
    await clock.tickAsync(10);
    expect(emulator.activity(P(0))?.joinRestriction).toBe('InviteOnly');
    await settle(clock, sync.flush());
  });

  it('budgets can be turned off (then the emulator throttles and Retry-After is honoured)', async () => {
    const { sync, clock, emulator } = await start({ sync: { budgets: false, countRefreshIntervalMs: 0 } });
    const match = sync.group({ ...settings, maxPlayers: 100 });
    for (let i = 0; i < 15; i++) match.join(P(i));
    for (let i = 0; i < 12; i++) {
      match.update({ extraPlayers: i + 1 });
      await clock.tickAsync(200);
    }
    await settle(clock, sync.flush());
    expect(sync.stats().throttled).toBeGreaterThan(0);
    expect(emulator.activity(P(0))?.currentPlayers).toBe(27);
  });
});

describe('ActivitySync: failures', () => {
  it('on 429 waits exactly Retry-After (plus jitter) and then sends the newest state', async () => {
    const { sync, clock, emulator, writesOf } = await start({ sync: { retryAfterJitterMs: 100 } });
    const throttled: ThrottledEvent[] = [];
    sync.on('throttled', (e) => throttled.push(e));
    const match = sync.group(settings);
    emulator.failNext('429', 1, 5);
    match.join(P(1));
    await clock.tickAsync(100);
    match.update({ connectionString: 'newer' });
    await settle(clock, sync.flush(), 60_000, 100);
    const writes = writesOf(P(1));
    expect(writes.map((w) => w.status)).toEqual([429, 204]);
    expect(writes[1]!.time - writes[0]!.time).toBeGreaterThanOrEqual(5000);
    expect(writes[1]!.time - writes[0]!.time).toBeLessThan(5200);
    expect(emulator.activity(P(1))?.connectionString).toBe('newer');
    expect(throttled).toMatchObject([{ xuid: P(1), groupId: 'match-42', method: 'PUT', retryAfterMs: 5000, scope: 'user' }]);
  });

  it('honours 503 with Retry-After the same way', async () => {
    const { sync, clock, emulator, writesOf } = await start();
    emulator.failNext('503-retry-after', 1, 3);
    sync.group(settings).join(P(1));
    await settle(clock, sync.flush(), 60_000, 100);
    const writes = writesOf(P(1));
    expect(writes.map((w) => w.status)).toEqual([503, 204]);
    expect(writes[1]!.time - writes[0]!.time).toBeGreaterThanOrEqual(3000);
  });

  it('a throttle that is not per user holds every player', async () => {
    const { clock, emulator } = await start();
    const throttled: ThrottledEvent[] = [];
    const fetch429: typeof fetch = async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url.includes(P(1)) && !throttled.length)
        return new Response(JSON.stringify({ limitType: 'Concurrency', maxRequests: '5', periodInSeconds: '1' }), { status: 429, headers: { 'retry-after': '4' } });
      return emulator.fetch(input, init);
    };
    const other = new ActivitySync({ client: new MpaClient({ titleId: TITLE, baseUrl: emulator.url, authorization: () => TOKEN, fetch: fetch429 }), retryAfterJitterMs: 0 });
    other.on('throttled', (e) => throttled.push(e));
    const match = other.group(settings);
    match.join(P(1));
    await clock.tickAsync(10);
    match.join(P(2));
    await settle(clock, other.flush(), 60_000, 100);
    expect(throttled[0]).toMatchObject({ scope: 'all', retryAfterMs: 4000 });
    const first2 = emulator.core.log.find((l) => l.xuid === P(2))!;
    expect(first2.time - Date.parse('2026-01-01')).toBeGreaterThanOrEqual(4000);
    await settle(clock, other.close(), 60_000, 100);
  });

  it.each(['500', '503', 'reset'] as const)('backs off with jitter after %s and succeeds', async (fault) => {
    const { sync, clock, emulator } = await start();
    const retries: RetryEvent[] = [];
    sync.on('retry', (e) => retries.push(e));
    emulator.failNext(fault, 2);
    sync.group(settings).join(P(1));
    await settle(clock, sync.flush(), 600_000, 100);
    expect(emulator.activity(P(1))).toBeDefined();
    expect(retries.map((e) => e.attempt)).toEqual([1, 2]);
    expect(retries.every((e) => e.delayMs >= 0 && e.delayMs < 1000 * 2 ** e.attempt)).toBe(true);
  });

  it('a hung answer times out and is retried', async () => {
    const { sync, clock, emulator } = await start();
    emulator.failNext('hang');
    sync.group(settings).join(P(1));
    await settle(clock, sync.flush(), 600_000, 500);
    expect(emulator.activity(P(1))).toBeDefined();
    expect(sync.stats().requests.PUT).toMatchObject({ 0: 1, 204: 1 });
  });

  it('a 400 AuthorizationError (title not allowed) is reported and retried with backoff', async () => {
    const { sync, clock, emulator } = await start({ emulator: { titleIds: [1] } });
    const errors: ErrorEvent[] = [];
    sync.on('error', (e) => errors.push(e));
    sync.group(settings).join(P(1));
    await clock.tickAsync(100);
    expect(errors[0]).toMatchObject({ xuid: P(1), method: 'PUT', error: { code: 'AUTHORIZATION', errorCode: 'AuthorizationError' } });
    expect(sync.playerState(P(1))).toBe('updating');
    expect(emulator.activity(P(1))).toBeUndefined();
  });

  it('a request refused as invalid is reported once and never retried', async () => {
    const { sync, clock, emulator } = await start();
    const errors: ErrorEvent[] = [];
    sync.on('error', (e) => errors.push(e));
    const original = emulator.core.handle.bind(emulator.core);
    emulator.core.handle = async () => ({ kind: 'answer', status: 400, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ errorCode: 'InvalidRequest', debugMessage: 'nope' }) });
    sync.group(settings).join(P(1));
    await settle(clock, sync.flush(), 600_000, 1000);
    emulator.core.handle = original;
    expect(errors).toHaveLength(1);
    expect(errors[0]!.error).toMatchObject({ code: 'REQUEST_REJECTED', errorCode: 'InvalidRequest' });
    expect(sync.stats()).toMatchObject({ failed: 1, retries: 0 });
  });

  it('an authorization failure after the refresh: error event, desired state kept, retried with backoff', async () => {
    const { sync, clock, emulator } = await start({ emulator: { tokens: ['XBL3.0 x=1;other'] } });
    const errors: ErrorEvent[] = [];
    sync.on('error', (e) => errors.push(e));
    sync.group(settings).join(P(1));
    await clock.tickAsync(5000);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors[0]!.error.code).toBe('AUTHORIZATION');
    expect(JSON.stringify(errors[0])).not.toContain('secret');
    emulator.core.setTokens(undefined);
    await settle(clock, sync.flush(), 600_000, 1000);
    expect(emulator.activity(P(1))).toBeDefined();
  });
});

describe('ActivitySync: keep-alive, close, misuse', () => {
  it('rewrites an activity that was not written for keepAliveMs, so it never expires', async () => {
    const { sync, clock, emulator, writesOf } = await start({ sync: { keepAliveMs: 3600_000 } });
    sync.group(settings).join(P(1));
    await settle(clock, sync.flush());
    await clock.tickAsync(30 * 3600_000);
    expect(emulator.activity(P(1))).toBeDefined();
    const writes = writesOf(P(1));
    expect(writes.length).toBeGreaterThanOrEqual(30);
    expect(writes[1]!.time - writes[0]!.time).toBeGreaterThanOrEqual(3600_000);
  });

  it('close() deletes everyone and resolves with nothing left over', async () => {
    const { sync, clock, emulator } = await start();
    const match = sync.group(settings);
    for (let i = 1; i <= 5; i++) match.join(P(i));
    await settle(clock, sync.flush());
    const result = await settle(clock, sync.close({ timeoutMs: 10_000 }), 20_000, 100);
    expect(result.undeleted).toEqual([]);
    expect(emulator.activities()).toEqual([]);
    expect(() => match.join(P(9))).toThrow(MpaClosedError);
    expect(() => sync.group({ ...settings, groupId: 'x' })).toThrow(MpaClosedError);
  });

  it('close() reports the players it could not delete in time', async () => {
    const { sync, clock, emulator } = await start();
    const match = sync.group(settings);
    match.join(P(1));
    match.join(P(2));
    await settle(clock, sync.flush());
    emulator.core.handle = async () => ({ kind: 'hang' });
    const result = await settle(clock, sync.close({ timeoutMs: 5000 }), 20_000, 100);
    expect(result.undeleted.map((u) => u.xuid).sort()).toEqual([P(1), P(2)]);
    expect(result.undeleted[0]!.groupId).toBe('match-42');
  });

  it('close() also reports a player whose DELETE was refused for good', async () => {
    const { sync, clock, emulator } = await start();
    const match = sync.group(settings);
    match.join(P(1));
    match.join(P(2));
    await settle(clock, sync.flush());
    const handle = emulator.core.handle.bind(emulator.core);
    emulator.core.handle = async (request) =>
      request.method === 'DELETE' && request.path.includes(P(1))
        ? { kind: 'answer', status: 400, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ errorCode: 'InvalidRequest', debugMessage: 'no' }) }
        : handle(request);
    match.leave(P(1));
    await settle(clock, sync.flush());
    const result = await settle(clock, sync.close(), 20_000, 100);
    expect(result.undeleted).toEqual([{ xuid: P(1), groupId: 'match-42' }]);
  });

  it('match.close() makes everyone leave and removes the group', async () => {
    const { sync, clock, emulator } = await start();
    const match = sync.group(settings);
    match.join(P(1));
    await settle(clock, sync.flush());
    await settle(clock, match.close(), 20_000, 100);
    expect(emulator.activities()).toEqual([]);
    expect(sync.getGroup('match-42')).toBeUndefined();
    expect(() => match.join(P(1))).toThrow(MpaUsageError);
    expect(sync.group(settings)).toBeDefined();
  });

  it('bad input is a clear error, never a crash; double join and unknown leave are no-ops', async () => {
    const { sync } = await start();
    const match = sync.group(settings);
    expect(() => match.join('not-a-xuid')).toThrow(MpaValidationError);
    expect(() => sync.group(settings)).toThrow(MpaUsageError);
    expect(() => sync.group({ ...settings, groupId: 'y', maxPlayers: 1 })).toThrow(/maxPlayers/);
    expect(() => match.update({ connectionString: 'x'.repeat(513) })).toThrow(/512/);
    expect(match.join(P(1))).toBe(true);
    expect(match.join(P(1))).toBe(false);
    expect(match.leave(P(2))).toBe(false);
    const big = sync.group({ ...settings, groupId: 'big', maxPlayers: 100, extraPlayers: 99 });
    big.join(P(50));
    expect(() => big.join(P(51))).toThrow(/at most 100/);
    expect(big.members).toEqual([P(50)]);
  });

  it('options are validated', async () => {
    const { client } = await start();
    expect(() => new ActivitySync({ client, keepAliveMs: 25 * 3600_000 })).toThrow(/24 h/);
    expect(() => new ActivitySync({ client, concurrency: 0 })).toThrow(MpaValidationError);
    expect(() => new ActivitySync({ client, budgets: { write: { burst: 0 } } })).toThrow(/budgets\.write\.burst/);
  });
});
