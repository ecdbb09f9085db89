import { describe, expect, it } from 'vitest';
import { createTestKit } from '../src/testing/index.js';

const XUID = '2533274800000001';

describe('mpa-sync/testing', () => {
  it('runs an engine against an in-process emulator on fake timers', async () => {
    const kit = await createTestKit();
    try {
      expect(Date.now()).toBe(Date.parse('2026-01-01T00:00:00Z'));
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
