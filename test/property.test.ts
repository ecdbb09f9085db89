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
    // The model: a player may be in several groups; their activity shows the one joined last.
    const joinedLast = new Map<number, number[]>();
    for (const c of commands) {
      if (c.kind === 'join') {
        if (groups[c.group]!.join(P(c.player))) joinedLast.set(c.player, [...(joinedLast.get(c.player) ?? []).filter((g) => g !== c.group), c.group]);
      } else if (c.kind === 'leave') {
        for (const g of groups) g.leave(P(c.player));
        joinedLast.delete(c.player);
      }
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
      const shown = joinedLast.get(p)?.at(-1);
      const group = shown === undefined ? undefined : groups[shown];
      expect(groups.filter((g) => g.members.includes(P(p))).length, `player ${p}'s groups`).toBe(joinedLast.get(p)?.length ?? 0);
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
  }, 120_000);

  it('with default budgets and no injected 429, the service never answers 429', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 20, maxLength: 200 }), fc.integer({ min: 1, max: 1_000_000 }), async (commands, seed) => {
        const counters = await runScenario(commands, { '500': 0.05, reset: 0.03, hang: 0.02 }, seed);
        expect(counters.byStatus[429] ?? 0).toBe(0);
      }),
      { numRuns: 100, seed: 20260102 },
    );
  }, 120_000);
});

type TwoCommand =
  | { kind: 'join'; engine: 0 | 1; group: number; player: number }
  | { kind: 'leave'; player: number }
  | { kind: 'move'; player: number; group: number; lateMs: number }
  | { kind: 'settings'; engine: 0 | 1; group: number; restriction: 'Public' | 'Followed' | 'InviteOnly'; maxPlayers: number }
  | { kind: 'extra'; engine: 0 | 1; group: number; extra: number }
  | { kind: 'wait'; ms: number };

const engineIdx = fc.constantFrom(0 as const, 1 as const);
const twoCommand: fc.Arbitrary<TwoCommand> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('join' as const), engine: engineIdx, group: fc.nat(1), player: fc.nat(PLAYERS - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('leave' as const), player: fc.nat(PLAYERS - 1) }) },
  // A player moves to the other engine; the old engine hears of the leave `lateMs` later.
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('move' as const), player: fc.nat(PLAYERS - 1), group: fc.nat(1), lateMs: fc.integer({ min: 0, max: 5000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('settings' as const), engine: engineIdx, group: fc.nat(1), restriction: fc.constantFrom('Public' as const, 'Followed' as const, 'InviteOnly' as const), maxPlayers: fc.integer({ min: 2, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('extra' as const), engine: engineIdx, group: fc.nat(1), extra: fc.nat(4) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 20_000 }) }) },
);

interface Held {
  content: string | null;
}
const contentKey = (body: unknown) => {
  const { sequenceNumber: _s, ...rest } = (body ?? {}) as Record<string, unknown>;
  return JSON.stringify(Object.keys(rest).sort().map((k) => [k, rest[k]]));
};
const joinability = (a: { connectionString?: string; joinRestriction?: string; maxPlayers?: number; currentPlayers?: number; groupId?: string } | undefined) =>
  a && JSON.stringify([a.groupId, a.connectionString, a.joinRestriction, a.maxPlayers, (a.currentPlayers ?? 0) >= (a.maxPlayers ?? 0)]);

describe('property: two engines, one service', () => {
  it('no stale overwrite, no request equal to the published state, joinability never wrong longer than 1 s when budgets allow, memory flat', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(twoCommand, { minLength: 5, maxLength: 60 }), fc.integer({ min: 1, max: 1_000_000 }), async (commands, seed) => {
        const r = await rig({ seed, sync: { keepAliveMs: 23 * 3600_000 } });
        const { clock, emulator } = r;
        const { ActivitySync } = await import('../src/engine/activity-sync.js');
        const { MpaClient } = await import('../src/client.js');
        const { seededRandom } = await import('../src/random.js');
        const other = new ActivitySync({ client: new MpaClient({ titleId: 1234567890, baseUrl: emulator.url, authorization: () => 'XBL3.0 x=1;t', fetch: emulator.fetch }), random: seededRandom(seed + 1), keepAliveMs: 23 * 3600_000 });
        const engines = [r.sync, other];
        try {
          const groups = engines.map((sync, e) => [0, 1].map((g) => sync.group({ groupId: `e${e}g${g}`, connectionString: `host${e}:${7000 + g}`, maxPlayers: 6 })));
          const where = new Map<number, { engine: 0 | 1; group: number }>();
          const joinStep = async (engine: 0 | 1, group: number, player: number) => {
            const previous = where.get(player);
            // One group at a time in this model: a join elsewhere leaves the previous group first.
            if (previous && (previous.engine !== engine || previous.group !== group)) groups[previous.engine]![previous.group]!.leave(P(player));
            groups[engine]![group]!.join(P(player));
            where.set(player, { engine, group });
          };
          const checkJoinability = () => {
            const now = Date.now();
            for (const [player, at] of where) {
              const group = groups[at.engine]![at.group]!;
              const writes = emulator.core.log.filter((l) => l.xuid === P(player) && (l.method === 'PUT' || l.method === 'DELETE'));
              const busy = writes.filter((w) => w.time > now - 16_000).length >= 9 || writes.filter((w) => w.time > now - 301_000).length >= 99;
              if (busy) continue; // budgets do not allow
              const want = { ...group.settings, groupId: group.groupId, currentPlayers: group.currentPlayers };
              expect(joinability(emulator.activity(P(player))), `player ${player} joinability`).toBe(joinability(want));
            }
          };
          for (const c of commands) {
            if (c.kind === 'join') await joinStep(c.engine, c.group, c.player);
            else if (c.kind === 'leave') {
              const at = where.get(c.player);
              if (at) groups[at.engine]![at.group]!.leave(P(c.player));
              where.delete(c.player);
            } else if (c.kind === 'move') {
              const at = where.get(c.player);
              const to = (at ? 1 - at.engine : 1) as 0 | 1;
              groups[to]![c.group]!.join(P(c.player));
              where.set(c.player, { engine: to, group: c.group });
              if (at) {
                await clock.tickAsync(c.lateMs);
                groups[at.engine]![at.group]!.leave(P(c.player));
              }
            } else if (c.kind === 'settings') groups[c.engine]![c.group]!.update({ joinRestriction: c.restriction, maxPlayers: Math.max(c.maxPlayers, 2) });
            else if (c.kind === 'extra') {
              const g = groups[c.engine]![c.group]!;
              if (g.members.length + c.extra <= 100) g.update({ extraPlayers: c.extra });
            } else await clock.tickAsync(c.ms);
            await clock.tickAsync(1000);
            checkJoinability();
          }
          await drain(clock, Promise.all(engines.map((s) => s.flush())));

          // No stale overwrite: every player's activity is the one of the engine they are in.
          for (let p = 0; p < PLAYERS; p++) {
            const at = where.get(p);
            const activity = emulator.activity(P(p));
            if (!at) expect(activity, `player ${p} left`).toBeUndefined();
            else expect(activity?.groupId, `player ${p}`).toBe(`e${at.engine}g${at.group}`);
          }
          // No request whose content equals what the service holds from that same writer.
          const held = new Map<string, Held & { writer: string }>();
          for (const l of emulator.core.log) {
            if (!l.xuid || (l.method !== 'PUT' && l.method !== 'DELETE')) continue;
            const key = l.method === 'PUT' ? contentKey(l.body) : null;
            const before = held.get(l.xuid);
            if (l.method === 'PUT' && before && before.content === key) expect.fail(`PUT equal to the published state for ${l.xuid}`);
            if (l.status === 204) held.set(l.xuid, { content: key, writer: '' });
          }
          // Memory flat after churn: everyone leaves; once the windows have passed nothing is kept.
          for (const engineGroups of groups) for (const g of engineGroups) await drain(clock, g.close());
          await clock.tickAsync(302_000);
          const probe = r.sync.group({ groupId: 'probe', connectionString: 'p', maxPlayers: 4 });
          probe.join(P(99));
          await drain(clock, r.sync.flush());
          expect(r.sync.stats().retained).toEqual({ players: 1, sequences: 1, budgets: 1 });
        } finally {
          if (!other.closed) await drain(clock, other.close({ timeoutMs: 1000 }));
          await r.dispose();
        }
      }),
      { numRuns: 40, seed: 20260103, endOnFailure: true },
    );
  }, 300_000);
});
