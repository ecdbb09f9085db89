import { afterEach, describe, expect, it } from 'vitest';
import type { ErrorEvent } from '../src/engine/events.js';
import { P, rig, settle, type Rig } from './engine-helpers.js';

let r: Rig | undefined;
afterEach(async () => {
  await r?.dispose();
  r = undefined;
});

const settings = { groupId: 'm', connectionString: 'host:7777', maxPlayers: 16, platform: 'XboxOne' as const };

describe('match.invite', () => {
  it('splits into calls of 16, removes duplicates, sends the group connection string and platform', async () => {
    r = await rig();
    const match = r.sync.group(settings);
    const friends = Array.from({ length: 20 }, (_, i) => P(100 + i));
    const result = await settle(r.clock, match.invite(P(1), [...friends, friends[0]!, friends[3]!]), 60_000, 100);
    expect(result.sent).toEqual(friends);
    expect(result.refused).toEqual([]);
    expect(r.emulator.core.invites.map((i) => i.invitedUsers.length)).toEqual([16, 4]);
    expect(r.emulator.core.invites[0]).toMatchObject({ sender: P(1), connectionString: 'host:7777', platform: 'XboxOne' });
  });

  it('stays within the sender’s invite budget (7 per 15 s): no 429', async () => {
    r = await rig();
    const match = r.sync.group(settings);
    const friends = Array.from({ length: 16 * 9 }, (_, i) => P(1000 + i));
    const result = await settle(r.clock, match.invite(P(1), friends), 600_000, 500);
    expect(result.sent).toHaveLength(16 * 9);
    expect(r.emulator.core.counters.throttled).toBe(0);
    const times = r.emulator.core.log.filter((l) => l.path.endsWith('/invites/server')).map((l) => l.time);
    expect(times[7]! - times[0]!).toBeGreaterThanOrEqual(15_000);
  });

  it('honours Retry-After, and reports bad xuids and refused calls with their reasons', async () => {
    r = await rig({ sync: { maxAttempts: 2 } });
    const match = r.sync.group(settings);
    r.emulator.failNext('429', 1, 3);
    const first = await settle(r.clock, match.invite(P(1), [P(2), 'nope']), 60_000, 100);
    expect(first.sent).toEqual([P(2)]);
    expect(first.refused).toMatchObject([{ xuid: 'nope', error: { code: 'VALIDATION' } }]);
    const calls = r.emulator.core.log.filter((l) => l.path.endsWith('/invites/server'));
    expect(calls.map((c) => c.status)).toEqual([429, 204]);
    expect(calls[1]!.time - calls[0]!.time).toBeGreaterThanOrEqual(3000);

    r.emulator.failNext('500', 2);
    const second = await settle(r.clock, match.invite(P(1), [P(3)]), 60_000, 100);
    expect(second.refused).toMatchObject([{ xuid: P(3), error: { code: 'SERVER' } }]);
  });

  it('rejects a bad sender', async () => {
    r = await rig();
    await expect(r.sync.group(settings).invite('x', [P(2)])).rejects.toThrow(/sender/);
  });
});

describe('recent players', () => {
  it('reports teams as Teammate and the whole match as Opponent, everyone who played', async () => {
    r = await rig();
    const match = r.sync.group(settings);
    for (let i = 1; i <= 4; i++) match.join(P(i));
    match.leave(P(4));
    const result = await settle(r.clock, match.reportRecentPlayers({ teams: [[P(1), P(2)], [P(3)]] }), 60_000, 100);
    expect(result).toEqual({ reported: 2, refused: [] });
    expect(r.emulator.core.recentPlayerGroups).toMatchObject([
      { players: [P(1), P(2)], encounterType: 'Teammate' },
      { players: [P(1), P(2), P(3), P(4)], encounterType: 'Opponent' },
    ]);
  });

  it('is sent when a match closes with the recentPlayers option, and on its interval', async () => {
    r = await rig();
    const match = r.sync.group({ ...settings, recentPlayers: { encounterType: 'Default', intervalMs: 600_000 } });
    match.join(P(1));
    match.join(P(2));
    await r.clock.tickAsync(600_000);
    expect(r.emulator.core.recentPlayerGroups).toMatchObject([{ players: [P(1), P(2)], encounterType: 'Default' }]);
    match.join(P(3));
    await settle(r.clock, match.close(), 60_000, 100);
    expect(r.emulator.core.recentPlayerGroups).toHaveLength(2);
    expect(r.emulator.core.recentPlayerGroups[1]!.players).toEqual([P(1), P(2), P(3)]);
  });

  it('reports a refused automatic report as an error event', async () => {
    r = await rig({ sync: { maxAttempts: 1 } });
    const errors: ErrorEvent[] = [];
    r.sync.on('error', (e) => errors.push(e));
    const match = r.sync.group({ ...settings, recentPlayers: {} });
    match.join(P(1));
    match.join(P(2));
    await settle(r.clock, r.sync.flush());
    r.emulator.failNext('500', 3);
    await settle(r.clock, match.close(), 60_000, 100);
    expect(errors.some((e) => e.groupId === 'm' && e.error.code === 'SERVER')).toBe(true);
  });

  it('a teams() callback that throws on the interval is an error event, never a crash, and the match goes on', async () => {
    r = await rig();
    const errors: ErrorEvent[] = [];
    r.sync.on('error', (e) => errors.push(e));
    const match = r.sync.group({
      ...settings,
      recentPlayers: {
        intervalMs: 600_000,
        teams: () => {
          throw new TypeError('studio bug');
        },
      },
    });
    match.join(P(1));
    match.join(P(2));
    await r.clock.tickAsync(600_000);
    expect(errors).toMatchObject([{ groupId: 'm', error: { code: 'USAGE' } }]);
    expect(errors[0]!.error.message).toMatch(/recentPlayers\.teams\(\) threw \(TypeError\)/);
    match.join(P(3));
    await settle(r.clock, r.sync.flush());
    expect(r.emulator.activity(P(3))).toMatchObject({ currentPlayers: 3 });
  });
});
