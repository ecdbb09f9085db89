import { describe, expect, it } from 'vitest';
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
});
