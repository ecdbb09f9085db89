import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestKit } from '../src/testing/index.js';
import { MpaUsageError } from '../src/errors.js';

const XUID = '2533274800000001';
const START = Date.parse('2026-01-01T00:00:00Z');

describe('mpa-sync/testing', () => {
  it('runs an engine against an in-process emulator on its own fake clock', async () => {
    const kit = await createTestKit();
    try {
      expect(kit.now()).toBe(START);
      const match = kit.sync.group({ groupId: 'm', connectionString: 'c', maxPlayers: 8 });
      match.join(XUID);
      match.join('2533274800000002');
      await kit.settle();
      expect(kit.activityOf(XUID)).toMatchObject({ currentPlayers: 2, groupId: 'm' });
      expect(kit.requestsOf(XUID).map((q) => q.method)).toEqual(['PUT']);
      kit.failNext('429', 1, 4);
      match.update({ joinRestriction: 'InviteOnly' });
      await kit.settle();
      expect(kit.throttles).toHaveLength(1);
      expect(kit.activityOf(XUID)?.joinRestriction).toBe('InviteOnly');
      await kit.advance(25 * 3600_000);
      expect(kit.activityOf(XUID)).toBeDefined(); // kept alive
      expect(kit.now()).toBeGreaterThanOrEqual(START + 25 * 3600_000);
    } finally {
      await kit.dispose();
    }
  });

  it('leaves the process’s real timers alone: a real setTimeout fires while the kit is active', async () => {
    const kit = await createTestKit();
    try {
      const realNow = Date.now();
      expect(realNow).toBeGreaterThan(START + 86_400_000); // Date is not faked
      const match = kit.sync.group({ groupId: 'm', connectionString: 'c', maxPlayers: 8 });
      match.join(XUID);
      await kit.advance(0);
      match.join('2533274800000002'); // XUID's count change is paced 15 s of engine time
      const fired = await new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 20));
      expect(fired).toBe(true);
      // ...while the engine's time moves only when the kit says so.
      expect(kit.activityOf(XUID)?.currentPlayers).toBe(1);
      await kit.advance(15_000);
      expect(kit.activityOf(XUID)?.currentPlayers).toBe(2);
    } finally {
      await kit.dispose();
    }
  });

  it('simulates emulator latency and hung answers on its own clock', async () => {
    const kit = await createTestKit({ emulator: { latencyMs: 2000 } });
    try {
      kit.sync.group({ groupId: 'm', connectionString: 'c', maxPlayers: 8 }).join(XUID);
      await kit.advance(1000);
      expect(kit.activityOf(XUID)).toBeUndefined();
      await kit.advance(1100);
      expect(kit.activityOf(XUID)).toBeDefined();
      kit.failNext('hang');
      kit.sync.getGroup('m')!.update({ maxPlayers: 10 });
      await kit.settle();
      expect(kit.activityOf(XUID)?.maxPlayers).toBe(10);
      expect(kit.requests.filter((r) => r.status === 0)).toHaveLength(1); // the hung one timed out
    } finally {
      await kit.dispose();
    }
  });

  it('a settle that runs out of fake time is a USAGE error, and the engine settles later all the same', async () => {
    const kit = await createTestKit();
    try {
      kit.failNext('hang');
      kit.sync.group({ groupId: 'm', connectionString: 'c', maxPlayers: 8 }).join(XUID);
      const late = await kit.settle(500).catch((error: unknown) => error);
      expect(late).toBeInstanceOf(MpaUsageError);
      expect(late).toMatchObject({ code: 'USAGE', message: 'mpa-sync test kit: not settled after 500 ms of fake time' });
      await kit.settle(); // the hung call times out, the retry lands
      expect(kit.activityOf(XUID)).toBeDefined();
    } finally {
      await kit.dispose();
    }
  });

  it('globalTimers: true fakes the global timers as before, and dispose restores them', async () => {
    const kit = await createTestKit({ globalTimers: true });
    try {
      expect(Date.now()).toBe(START);
      kit.sync.group({ groupId: 'm', connectionString: 'c', maxPlayers: 8 }).join(XUID);
      await kit.settle();
      expect(kit.activityOf(XUID)).toBeDefined();
    } finally {
      await kit.dispose();
    }
    expect(Date.now()).toBeGreaterThan(Date.parse('2026-06-01')); // real clock is back
  });

  it('dispose deletes every activity', async () => {
    const kit = await createTestKit();
    kit.sync.group({ groupId: 'm', connectionString: 'c', maxPlayers: 8 }).join(XUID);
    await kit.settle();
    await kit.dispose();
    expect(kit.emulator.activities()).toEqual([]);
  });

  it("tells what a friend sees: present, the players, joinable, full, invite-only, in the live page's words", async () => {
    const kit = await createTestKit();
    const [a, b, c, d] = ['2533274800000001', '2533274800000002', '2533274800000003', '2533274800000004'];
    try {
      expect(kit.friendView(a!)).toEqual({ present: false, text: 'Not in a match', joinable: false, full: false, inviteOnly: false, players: undefined, joinRestriction: undefined });
      const match = kit.sync.group({ groupId: 'm', connectionString: '203.0.113.7:7777', maxPlayers: 4 });
      match.join(a!);
      match.join(b!);
      await kit.settle();
      expect(kit.friendView(a!)).toEqual({ present: true, text: 'In a match · 2/4 · Joinable by followers', joinable: true, full: false, inviteOnly: false, players: '2/4', joinRestriction: 'Followed' });

      // A count change is paced (15 s by default): for a while one member shows the old count.
      match.join(c!);
      await kit.advance(1_000);
      expect([kit.friendView(a!).players, kit.friendView(c!).players]).toEqual(['2/4', '3/4']);
      await kit.advance(15_000);
      expect(kit.friendView(a!).players).toBe('3/4');

      // The match filling changes whether friends can join: that goes out at once.
      match.join(d!);
      await kit.advance(1_000);
      expect(kit.friendView(a!)).toMatchObject({ full: true, joinable: false, inviteOnly: false, players: '4/4', text: 'In a match · 4/4 · Full' });

      match.update({ joinRestriction: 'InviteOnly' });
      await kit.settle();
      expect(kit.friendView(a!)).toMatchObject({ full: true, inviteOnly: true, joinable: false, text: 'In a match · 4/4 · Invite only' });

      match.leave(a!);
      await kit.settle();
      expect(kit.friendView(a!)).toMatchObject({ present: false, joinable: false, text: 'Not in a match' });
      expect(kit.friendView(b!)).toMatchObject({ present: true, full: false, inviteOnly: true, players: '3/4' });
    } finally {
      await kit.dispose();
    }
  });

  it('docs/testing.md\'s example holds: friends see the match as full, then the leaver gone after a throttle', async () => {
    const kit = await createTestKit();
    try {
      const match = kit.sync.group({ groupId: 'm', connectionString: '203.0.113.7:7777', maxPlayers: 2 });
      match.join('2533274800000001');
      await kit.settle();
      expect(kit.friendView('2533274800000001')).toMatchObject({ present: true, joinable: true, players: '1/2' });
      match.join('2533274800000002');
      await kit.settle();
      expect(kit.friendView('2533274800000001')).toMatchObject({ full: true, joinable: false, text: 'In a match · 2/2 · Full' });
      expect(kit.activityOf('2533274800000001')).toMatchObject({ currentPlayers: 2 });
      expect(kit.requestsOf('2533274800000001')).toHaveLength(2);
      kit.failNext('429', 1, 5);
      match.leave('2533274800000002');
      await kit.advance(10_000);
      expect(kit.throttles).toHaveLength(1);
      expect(kit.friendView('2533274800000002')).toMatchObject({ present: false, text: 'Not in a match' });
    } finally {
      await kit.dispose();
    }
  });

  it('a friend view of an activity without counts: no players, joinable by its restriction', async () => {
    const kit = await createTestKit();
    try {
      await kit.client.setActivity(XUID, { connectionString: 'c', joinRestriction: 'Public', sequenceNumber: 1n });
      expect(kit.friendView(XUID)).toEqual({ present: true, text: 'In a match · Joinable by anyone', joinable: true, full: false, inviteOnly: false, players: undefined, joinRestriction: 'Public' });
    } finally {
      await kit.dispose();
    }
  });
});

describe('mpa-sync/testing beside vitest fake timers', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    ['vi.useFakeTimers()', () => vi.useFakeTimers()],
    ["vi.useFakeTimers({ toFake: ['setTimeout'] }) (Date stays real)", () => vi.useFakeTimers({ toFake: ['setTimeout'] })],
  ])('globalTimers: true after %s is a USAGE error that says what to do, and installs nothing', async (_, fake) => {
    fake();
    const error = await createTestKit({ globalTimers: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MpaUsageError);
    expect(error).toMatchObject({ code: 'USAGE' });
    expect((error as Error).message).toMatch(/already faked/);
    expect((error as Error).message).toContain('clock: { tickAsync: (ms) => vi.advanceTimersByTimeAsync(ms) }');
    // vitest's own fake timers still work, and come off as usual.
    const fired = vi.fn();
    setTimeout(fired, 1000);
    await vi.advanceTimersByTimeAsync(1000);
    expect(fired).toHaveBeenCalledOnce();
    vi.useRealTimers();
    expect(Date.now()).toBeGreaterThan(Date.parse('2026-06-01'));
  });

  it('what the error suggests works: the kit on vitest fake timers, moved by vi.advanceTimersByTimeAsync', async () => {
    vi.useFakeTimers({ now: START });
    const kit = await createTestKit({ clock: { tickAsync: (ms) => vi.advanceTimersByTimeAsync(ms) } });
    try {
      const match = kit.sync.group({ groupId: 'm', connectionString: 'c', maxPlayers: 2 });
      match.join(XUID);
      match.join('2533274800000002');
      await kit.settle();
      expect(kit.friendView(XUID)).toMatchObject({ present: true, full: true, players: '2/2' });
      expect(kit.now()).toBeGreaterThanOrEqual(START);
      expect(kit.now()).toBeLessThan(START + 3_600_000);
    } finally {
      await kit.dispose();
    }
  });

  it('the default private clock is unaffected by vitest fake timers', async () => {
    vi.useFakeTimers();
    const kit = await createTestKit();
    try {
      kit.sync.group({ groupId: 'm', connectionString: 'c', maxPlayers: 8 }).join(XUID);
      await kit.settle();
      expect(kit.friendView(XUID).present).toBe(true);
    } finally {
      await kit.dispose();
    }
  });
});
