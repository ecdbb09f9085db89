import { createClock } from '@sinonjs/fake-timers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MpaClient } from '../src/client.js';
import { ActivitySync } from '../src/engine/activity-sync.js';
import type { ListenerErrorEvent, SyncEvents } from '../src/engine/events.js';
import { EmulatorCore } from '../src/emulator/core.js';
import { inProcessFetch } from '../src/emulator/server.js';
import { MpaValidationError } from '../src/errors.js';
import { seededRandom } from '../src/random.js';
import { xboxSequenceNumber } from '../src/sequence.js';
import { P, rig, settle, type Rig } from './engine-helpers.js';

let r: Rig | undefined;
afterEach(async () => {
  await r?.dispose();
  r = undefined;
  vi.restoreAllMocks();
});

const settings = { groupId: 'm', connectionString: 'host:7777', maxPlayers: 8 };
const NAMES = ['request', 'state', 'synced', 'retry', 'throttled', 'error'] as const;

/** A scenario that fires every event: joins, a 429, a 400 on one write, leaves. */
async function scenario(throwing: boolean) {
  const rr = await rig({ seed: 7 });
  const errors: ListenerErrorEvent[] = [];
  if (throwing) {
    for (const name of NAMES) rr.sync.on(name, () => { throw new Error(`boom in ${name}`); });
    rr.sync.on('listenerError', (e) => errors.push(e));
  }
  const match = rr.sync.group(settings);
  rr.emulator.failNext('429', 1, 2);
  match.join(P(1));
  match.join(P(2));
  await settle(rr.clock, rr.sync.flush(), 60_000, 100);
  const handle = rr.emulator.core.handle.bind(rr.emulator.core);
  let refused = false;
  rr.emulator.core.handle = async (request) => {
    if (!refused && request.method === 'PUT') {
      refused = true;
      return { kind: 'answer', status: 400, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ errorCode: 'InvalidRequest', debugMessage: 'no' }) };
    }
    return handle(request);
  };
  match.update({ maxPlayers: 10 });
  await settle(rr.clock, rr.sync.flush(), 60_000, 100);
  match.leave(P(1));
  await settle(rr.clock, rr.sync.flush(), 60_000, 100);
  const wire = rr.emulator.core.log.map((l) => `${l.method} ${l.xuid} ${l.status} ${l.time}`);
  await rr.dispose();
  return { wire, errors };
}

describe('a throwing listener', () => {
  it('never crashes, never changes what is sent, and is reported once per throw as listenerError', async () => {
    const calm = await scenario(false);
    const noisy = await scenario(true);
    expect(noisy.wire).toEqual(calm.wire);
    expect(new Set(noisy.errors.map((e) => e.event))).toEqual(new Set(NAMES));
    expect(noisy.errors.every((e) => e.error instanceof Error && e.error.message === `boom in ${e.event}`)).toBe(true);
  });

  it('a request job that fails unexpectedly (a broken sequence source at keep-alive) never crashes the process: one warning, naming no message', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    let broken = false;
    const sequence = (unixMs: number) => {
      if (broken) throw new Error('secret-token-abc');
      return xboxSequenceNumber(unixMs);
    };
    r = await rig({ sync: { keepAliveMs: 60_000, sequence } });
    r.sync.group(settings).join(P(1));
    await settle(r.clock, r.sync.flush());
    broken = true;
    await r.clock.tickAsync(61_000);
    await r.clock.tickAsync(61_000);
    const internal = warn.mock.calls.filter((c) => /request job failed unexpectedly/.test(String(c[0])));
    expect(internal).toHaveLength(1);
    expect(internal[0]![1]).toMatchObject({ code: 'MPA_SYNC_INTERNAL_ERROR' });
    expect(String(internal[0]![0])).not.toContain('secret');
  });

  it('without a listenerError listener: one process warning per event name, naming no message', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    r = await rig();
    r.sync.on('state', () => { throw new Error('secret-token-abc'); });
    const match = r.sync.group(settings);
    match.join(P(1));
    match.join(P(2));
    await settle(r.clock, r.sync.flush());
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/'state' listener threw/);
    expect(String(warn.mock.calls[0]![0])).not.toContain('secret');
    expect(r.emulator.activity(P(1))).toMatchObject({ currentPlayers: 2 });
  });

  it('once() listeners still fire once, and a throwing one does not stop the others', async () => {
    r = await rig();
    const seen: string[] = [];
    r.sync.once('synced', () => {
      seen.push('once');
      throw new Error('x');
    });
    r.sync.on('synced', (e) => seen.push(e.xuid));
    r.sync.on('listenerError', () => seen.push('reported'));
    const match = r.sync.group(settings);
    match.join(P(1));
    await settle(r.clock, r.sync.flush());
    match.join(P(2));
    await settle(r.clock, r.sync.flush());
    expect(seen.filter((s) => s === 'once')).toHaveLength(1);
    expect(seen.filter((s) => s === 'reported')).toHaveLength(1);
    expect(seen).toEqual(expect.arrayContaining([P(1), P(2)]));
  });

  it('a throwing listenerError listener is itself contained', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    r = await rig();
    r.sync.on('request', () => { throw new Error('a'); });
    r.sync.on('listenerError', () => { throw new Error('b'); });
    r.sync.group(settings).join(P(1));
    await settle(r.clock, r.sync.flush());
    expect(r.emulator.activity(P(1))).toBeDefined();
    expect(warn).toHaveBeenCalledTimes(1);
  });
});

describe('time', () => {
  it('durations use a monotonic clock: a wall clock stepping back 20 s delays neither pacing nor Retry-After', async () => {
    r = await rig({ sync: { retryAfterJitterMs: 0 } });
    const { sync, clock, emulator } = r;
    const match = sync.group(settings);
    match.join(P(0));
    await settle(clock, sync.flush());
    match.join(P(1)); // P(0)'s count is due 15 s from now
    clock.setSystemTime(Date.now() - 20_000);
    await clock.tickAsync(15_000);
    expect(emulator.activity(P(0))?.currentPlayers).toBe(2);

    emulator.failNext('429', 1, 3);
    match.update({ maxPlayers: 12 });
    await clock.tickAsync(100);
    clock.setSystemTime(Date.now() - 20_000);
    await clock.tickAsync(3000);
    expect(emulator.activity(P(0))?.maxPlayers).toBe(12);
  });

  it('runs entirely on an injected clock: the global timers are never used', async () => {
    const clock = createClock(Date.parse('2026-01-01T00:00:00Z'));
    const spy = vi.spyOn(globalThis, 'setTimeout');
    const emulator = new EmulatorCore({ now: () => clock.now });
    // The client's own call timeout runs on the global timers (a client has no clock option): told apart by its length.
    const client = new MpaClient({ titleId: 1, baseUrl: 'http://127.0.0.1:9', authorization: () => 'XBL3.0 x=1;t', fetch: inProcessFetch(emulator), timeoutMs: 12_345 });
    const sync = new ActivitySync({ client, clock, random: seededRandom(1), keepAliveMs: 3600_000 });
    const match = sync.group({ ...settings, recentPlayers: { intervalMs: 600_000 } });
    match.join(P(0));
    match.join(P(1));
    await clock.tickAsync(0);
    emulator.failNext('500', 1);
    match.join(P(2)); // paced counts, then a backoff
    await clock.tickAsync(20_000);
    expect(emulator.activity(P(0))?.currentPlayers).toBe(3);
    await clock.tickAsync(600_000);
    expect(emulator.recentPlayerGroups).toHaveLength(1); // the interval ran on the injected clock
    await clock.tickAsync(3 * 3600_000);
    expect(emulator.log.filter((l) => l.xuid === P(0)).length).toBeGreaterThanOrEqual(4); // keep-alives
    const engineTimers = spy.mock.calls.filter(([, ms]) => typeof ms === 'number' && ms > 0 && ms !== 12_345);
    expect(engineTimers).toEqual([]);
    const closing = sync.close({ timeoutMs: 5000 });
    await clock.tickAsync(5000);
    expect((await closing).undeleted).toEqual([]);
  });
});

describe('options and arguments', () => {
  it('refuses every millisecond option above 2^31-1, NaN or negative, naming it', async () => {
    r = await rig();
    const { client } = r;
    const bad = [2 ** 31, Number.NaN, -1];
    const cases: [string, (v: number) => object][] = [
      ['budgetMarginMs', (v) => ({ budgetMarginMs: v })],
      ['countRefreshIntervalMs', (v) => ({ countRefreshIntervalMs: v })],
      ['retryAfterJitterMs', (v) => ({ retryAfterJitterMs: v })],
      ['keepAliveMs', (v) => ({ keepAliveMs: v })],
      ['baseMs', (v) => ({ backoff: { baseMs: v } })],
      ['capMs', (v) => ({ backoff: { capMs: v } })],
      ['intervalMs', (v) => ({ rateCap: { cap: 1, intervalMs: v } })],
      ['burstWindowMs', (v) => ({ budgets: { burstWindowMs: v } })],
      ['sustainWindowMs', (v) => ({ budgets: { sustainWindowMs: v } })],
    ];
    for (const [name, make] of cases)
      for (const v of bad) {
        expect(() => new ActivitySync({ client, ...make(v) }), `${name}=${v}`).toThrow(MpaValidationError);
        expect(() => new ActivitySync({ client, ...make(v) }), `${name}=${v}`).toThrow(new RegExp(name));
      }
    for (const v of bad) {
      expect(() => r!.sync.flush({ timeoutMs: v })).toThrow(/timeoutMs/);
      await expect(r.sync.close({ timeoutMs: v })).rejects.toThrow(/timeoutMs/);
    }
  });

  it('refuses a client, clock and sequence that are not what they claim, naming each', () => {
    const attempt = () => new ActivitySync({ client: { setActivity: 1 } as never, now: 5 as never, sequence: 'x' as never });
    expect(attempt).toThrow(MpaValidationError);
    try {
      attempt();
    } catch (error) {
      const paths = (error as MpaValidationError).issues.map((i) => i.path.join('.'));
      expect(paths).toEqual(expect.arrayContaining(['client', 'now', 'sequence']));
    }
    expect(() => new ActivitySync(null as never)).toThrow(MpaValidationError);
  });

  it('update({ key: undefined }) changes nothing for that key', async () => {
    r = await rig();
    const match = r.sync.group({ ...settings, joinRestriction: 'InviteOnly', platform: 'XboxOne' });
    match.join(P(1));
    await settle(r.clock, r.sync.flush());
    match.update({ joinRestriction: undefined, platform: undefined, maxPlayers: 12 });
    await settle(r.clock, r.sync.flush());
    expect(r.emulator.activity(P(1))).toMatchObject({ joinRestriction: 'InviteOnly', platform: 'XboxOne', maxPlayers: 12 });
    match.update({ platform: null });
    await settle(r.clock, r.sync.flush());
    expect(r.emulator.activity(P(1))?.platform).toBeUndefined();
  });

  it('bad group-level invite and recent-players arguments are MpaValidationErrors naming the argument', async () => {
    r = await rig();
    const match = r.sync.group(settings);
    await expect(match.invite(P(1), P(2) as never)).rejects.toThrow(/invitedUsers/);
    await expect(match.invite(P(1), null as never)).rejects.toThrow(MpaValidationError);
    await expect(match.reportRecentPlayers(null as never)).rejects.toThrow(MpaValidationError);
    await expect(match.reportRecentPlayers({ teams: 'ab' } as never)).rejects.toThrow(/teams/);
    await expect(match.reportRecentPlayers({ encounterType: 'Bogus' } as never)).rejects.toThrow(/encounterType/);
  });

  it('a PUT the client refuses before sending is not counted as a request', async () => {
    r = await rig();
    const client = r.client;
    const original = client.setActivity.bind(client);
    client.setActivity = (xuid, activity, options) => original(xuid, { ...activity, connectionString: 'x'.repeat(600) }, options);
    const errors: unknown[] = [];
    r.sync.on('error', (e) => errors.push(e.error));
    r.sync.group(settings).join(P(1));
    await settle(r.clock, r.sync.flush());
    expect(r.sync.stats().requests).toEqual({});
    expect(r.sync.stats().failed).toBe(1);
    expect(errors[0]).toBeInstanceOf(MpaValidationError);
    expect(r.emulator.core.log).toEqual([]);
  });
});

describe('memory', () => {
  it('per-player memory is released when players are gone and their budget windows have passed', async () => {
    r = await rig();
    const { sync, clock } = r;
    const groups = Array.from({ length: 50 }, (_, g) => sync.group({ ...settings, groupId: `g${g}` }));
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 300; i++) groups[i % 50]!.join(P(round * 1000 + i));
      await settle(clock, sync.flush(), 600_000, 100);
      for (let i = 0; i < 300; i++) groups[i % 50]!.leave(P(round * 1000 + i));
      await settle(clock, sync.flush(), 600_000, 100);
    }
    expect(sync.stats().players).toBe(0);
    await clock.tickAsync(302_000); // past the sustain window and its margin
    groups[0]!.join(P(9999)); // the next request sweeps what has expired
    await settle(clock, sync.flush());
    expect(sync.stats().retained).toEqual({ players: 1, sequences: 1, budgets: 1 });
  }, 60_000);

  it('a gone player’s budget log and sequence numbers are released once the windows pass, with no request after them', async () => {
    r = await rig();
    const { sync, clock } = r;
    const match = sync.group(settings);
    for (let i = 0; i < 20; i++) match.join(P(i));
    await settle(clock, sync.flush());
    for (let i = 0; i < 20; i++) match.leave(P(i));
    await settle(clock, sync.flush());
    expect(sync.stats().retained.budgets).toBe(20);
    await clock.tickAsync(305_000); // past the sustain window, its margin and the sweep's step
    expect(sync.stats().retained).toEqual({ players: 0, sequences: 0, budgets: 0 });
  });
});

export type { SyncEvents };
