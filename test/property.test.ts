import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FaultKind } from '../src/emulator/core.js';
import { drain, P, rig } from './engine-helpers.js';

type Command =
  | { kind: 'join'; group: number; player: number }
  | { kind: 'leave'; player: number }
  | { kind: 'settings'; group: number; restriction: 'Public' | 'Followed' | 'InviteOnly'; maxPlayers: number }
  | { kind: 'extra'; group: number; extra: number }
  | { kind: 'wait'; ms: number }
  | { kind: 'churn'; group: number; steps: number; everyMs: number };

const GROUPS = 3;
const PLAYERS = 12;
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('join' as const), group: fc.nat(GROUPS - 1), player: fc.nat(PLAYERS - 1) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('leave' as const), player: fc.nat(PLAYERS - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('settings' as const), group: fc.nat(GROUPS - 1), restriction: fc.constantFrom('Public' as const, 'Followed' as const, 'InviteOnly' as const), maxPlayers: fc.integer({ min: 8, max: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('extra' as const), group: fc.nat(GROUPS - 1), extra: fc.nat(4) }) },
  // Rapid count changes: the pressure that would exceed the per-user windows unplanned.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('churn' as const), group: fc.nat(GROUPS - 1), steps: fc.integer({ min: 5, max: 30 }), everyMs: fc.integer({ min: 100, max: 2000 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.oneof(fc.integer({ min: 0, max: 1500 }), fc.integer({ min: 0, max: 30_000 })) }) },
);

async function runScenario(commands: Command[], faultRates: Partial<Record<FaultKind, number>>, seed: number) {
  const r = await rig({ emulator: { faults: { seed, rates: faultRates, retryAfterSeconds: 2, methods: ['PUT', 'DELETE'] } }, seed });
  try {
    const { sync, clock, emulator } = r;
    const groups = Array.from({ length: GROUPS }, (_, g) => sync.group({ groupId: `g${g}`, connectionString: `host:${7000 + g}`, maxPlayers: 16 }));
    for (const c of commands) {
      if (c.kind === 'join') groups[c.group]!.join(P(c.player));
      else if (c.kind === 'leave') for (const g of groups) g.leave(P(c.player));
      else if (c.kind === 'settings') groups[c.group]!.update({ joinRestriction: c.restriction, maxPlayers: c.maxPlayers });
      else if (c.kind === 'extra') groups[c.group]!.update({ extraPlayers: c.extra });
      else if (c.kind === 'churn')
        for (let i = 0; i < c.steps; i++) {
          groups[c.group]!.update({ extraPlayers: i % 5 });
          await clock.tickAsync(c.everyMs);
        }
      else await clock.tickAsync(c.ms);
    }
    await drain(clock, sync.flush());

    // The service holds exactly the desired state.
    for (let p = 0; p < PLAYERS; p++) {
      const group = groups.find((g) => g.members.includes(P(p)));
      const activity = emulator.activity(P(p));
      if (!group) expect(activity, `player ${p} has left`).toBeUndefined();
      else
        expect(activity, `player ${p} in ${group.groupId}`).toMatchObject({
          groupId: group.groupId,
          connectionString: group.settings.connectionString,
          joinRestriction: group.settings.joinRestriction,
          maxPlayers: group.settings.maxPlayers,
          currentPlayers: group.currentPlayers,
        });
    }
    // Accepted writes carry strictly increasing sequence numbers per user; nothing is ever
    // sent with a number lower than one sent before.
    for (let p = 0; p < PLAYERS; p++) {
      const writes = r.writesOf(P(p));
      const accepted = writes.filter((w) => w.status === 204).map((w) => w.seq!);
      for (let i = 1; i < accepted.length; i++) expect(accepted[i]! > accepted[i - 1]!).toBe(true);
      for (let i = 1; i < writes.length; i++) expect(writes[i]!.seq! >= writes[i - 1]!.seq!).toBe(true);
    }
    expect(emulator.core.counters.maxConcurrentPerUser).toBeLessThanOrEqual(1);
    return emulator.core.counters;
  } finally {
    await r.dispose();
  }
}

describe('property: after quiescence the service equals the desired state', () => {
  it('with random faults (500, 503, 503 + Retry-After, 429, reset, hang)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 150 }), fc.integer({ min: 1, max: 1_000_000 }), async (commands, seed) => {
        await runScenario(commands, { '500': 0.05, '503': 0.03, '503-retry-after': 0.03, '429': 0.03, reset: 0.03, hang: 0.02 }, seed);
      }),
      { numRuns: 100, seed: 20260101 },
    );
  });

  it('with default budgets and no injected 429, the service never answers 429', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 20, maxLength: 200 }), fc.integer({ min: 1, max: 1_000_000 }), async (commands, seed) => {
        const counters = await runScenario(commands, { '500': 0.05, reset: 0.03, hang: 0.02 }, seed);
        expect(counters.byStatus[429] ?? 0).toBe(0);
      }),
      { numRuns: 100, seed: 20260102 },
    );
  });
});
