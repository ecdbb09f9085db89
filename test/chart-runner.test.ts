import fc from 'fast-check';
import { createActor, type EventObject } from 'xstate';
import { describe, expect, it } from 'vitest';
import { ChartRunner, type ChartEffect, type ChartState } from '../src/engine/chart-runner.js';
import { createPlayerMachine, requestFor, type PlayerEvent } from '../src/engine/player-machine.js';
import type { RetryDecision } from '../src/engine/retry-policy.js';

const input = (xuid: string) => ({ xuid, groupId: 'm1', keepAliveMs: 3_600_000, countRefreshIntervalMs: 15_000 });
const content = (currentPlayers: number, joinRestriction: 'Public' | 'Followed' | 'InviteOnly' = 'Followed') => ({ connectionString: '203.0.113.7:7777', joinRestriction, currentPlayers, maxPlayers: 8, groupId: 'm1' });
const join: PlayerEvent = { type: 'DESIRE', now: 1000, groupId: 'm1', activity: content(1), sequenceNumber: 1n, reason: 'join' };
const sent = (n: number, now: number): PlayerEvent => ({ type: 'SENT', now, startedAt: now, request: { method: 'PUT', groupId: 'm1', activity: content(n), sequenceNumber: BigInt(n), reason: 'join' } });
const emitted = (effects: readonly ChartEffect[]) => effects.flatMap((e) => (e.kind === 'emit' ? [e.event.type] : []));

describe('ChartRunner: the player chart without a live actor', () => {
  it('a join enters updating and asks the engine to send, in the order the chart emits', () => {
    const runner = new ChartRunner(createPlayerMachine(), input('x0'));
    const [next, effects] = runner.step(runner.fresh(input('1')), join);
    expect(next.value).toBe('updating.sending');
    expect(effects.filter((e) => e.kind === 'emit').map((e) => e.kind === 'emit' && e.event)).toEqual([
      { type: 'state', xuid: '1', state: 'updating' },
      { type: 'send', xuid: '1', priority: 1 },
    ]);
  });

  it('a paced count change becomes a delay of the pacing interval, cancelled when the state is left', () => {
    const runner = new ChartRunner(createPlayerMachine(), input('x0'));
    let [s] = runner.step(runner.fresh(input('1')), join);
    [s] = runner.step(s, sent(1, 1000));
    expect(s.value).toBe('active');
    const [paced, effects] = runner.step(s, { type: 'DESIRE', now: 2000, groupId: 'm1', activity: content(2), sequenceNumber: 2n, reason: 'count' });
    expect(paced.value).toBe('updating.pacing');
    const schedule = effects.find((e) => e.kind === 'schedule');
    expect(schedule).toMatchObject({ kind: 'schedule', delayMs: 15_000 });

    const [leaving, onLeave] = runner.step(paced, { type: 'DESIRE', now: 3000, groupId: 'm1', activity: null, sequenceNumber: undefined, reason: 'leave' });
    expect(leaving.value).toBe('leaving.sending');
    expect(onLeave).toContainEqual({ kind: 'cancel', id: schedule?.kind === 'schedule' ? schedule.id : 'none' });
    expect(emitted(onLeave)).toContain('send');
  });

  it('the delayed event, handed back, moves the chart on as the after delay says', () => {
    const runner = new ChartRunner(createPlayerMachine(), input('x0'));
    let [s] = runner.step(runner.fresh(input('1')), join);
    const [waiting, entered] = runner.step(s, { type: 'WAIT', now: 1000, ms: 5000 });
    expect(waiting.value).toBe('updating.waiting');
    const delay = entered.find((e) => e.kind === 'schedule');
    if (delay?.kind !== 'schedule') throw new Error('no delay scheduled');
    expect(delay.delayMs).toBe(5000);
    [s] = runner.step(waiting, delay.event);
    expect(s.value).toBe('updating.sending');
  });

  it('one runner serves many players: each state keeps its own player, learned or not', () => {
    const runner = new ChartRunner(createPlayerMachine(), input('x0'));
    const a = runner.fresh(input('A'));
    const b = runner.fresh(input('B'));
    const [a1, fromA] = runner.step(a, join);
    const [, fromB] = runner.step(b, join); // the same transition, replayed
    expect(runner.steps).toEqual({ computed: 1, replayed: 1 });
    expect(fromA.map((e) => e.kind === 'emit' && e.event.xuid)).toEqual(['A', 'A']);
    expect(fromB.map((e) => e.kind === 'emit' && e.event.xuid)).toEqual(['B', 'B']);
    expect(a1.context.xuid).toBe('A');
    expect(b.value).toBe('idle');
  });

  it('a new player needs no step: fresh() is the initial state XState computes, and a join from it does what it does from there', () => {
    const machine = createPlayerMachine();
    const runner = new ChartRunner(machine, input('x0'), { learn: false });
    // The initial snapshot as a live actor of the same machine computes it.
    const actor = createActor(machine, { input: input('1') });
    const reference = actor.getSnapshot();
    const fresh = runner.fresh(input('1'));
    expect(fresh).toEqual({ value: reference.value, context: reference.context });
    const seen: unknown[] = [];
    actor.start(); // (its entry into idle reports idle, which a fresh player already is)
    actor.on('*', (event) => void seen.push(event));
    actor.send(join);
    const [fromFresh, effects] = runner.step(fresh, join);
    expect(fromFresh.value).toBe('updating.sending');
    expect(actor.getSnapshot().value).toEqual({ updating: 'sending' });
    expect(fromFresh.context).toEqual(actor.getSnapshot().context);
    expect(effects.flatMap((e) => (e.kind === 'emit' ? [e.event] : []))).toEqual(seen);
    actor.stop();
  });

  it('a gone player stays gone: no step, no effect', () => {
    const runner = new ChartRunner(createPlayerMachine(), input('x0'));
    const [s, effects] = runner.step(runner.fresh(input('1')), { type: 'DESIRE', now: 1, groupId: 'm1', activity: null, sequenceNumber: undefined, reason: 'leave' });
    expect(s.value).toBe('gone');
    expect(emitted(effects)).toEqual(['state']);
    expect(runner.step(s, join)).toEqual([s, []]);
  });
});

// ---- learned transitions against XState, step by step -----------------------------------

type Step = { kind: 'desire'; players: number | null; restriction: 'Public' | 'Followed' | 'InviteOnly'; reason: 'join' | 'count' | 'settings' } | { kind: 'answer'; how: 'sent' | 'skipped' | 'wait' | 'failed' | 'verified' | 'verifyFailed' | 'flush' | 'keepalive' | 'delay'; n: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('desire' as const), players: fc.option(fc.integer({ min: 1, max: 8 }), { freq: 4 }), restriction: fc.constantFrom('Public' as const, 'Followed' as const, 'InviteOnly' as const), reason: fc.constantFrom('join' as const, 'count' as const, 'settings' as const) }),
  fc.record({ kind: fc.constant('answer' as const), how: fc.constantFrom('sent' as const, 'skipped' as const, 'wait' as const, 'failed' as const, 'verified' as const, 'verifyFailed' as const, 'flush' as const, 'keepalive' as const, 'delay' as const), n: fc.nat(5) }),
);

const DECISIONS: RetryDecision[] = [
  { kind: 'retry', delayMs: 2000, scope: 'user', retryAfterMs: undefined, ambiguous: false },
  { kind: 'retry', delayMs: 5000, scope: 'user', retryAfterMs: 5000, ambiguous: true },
  { kind: 'verify' },
  { kind: 'superseded' },
  { kind: 'give-up', ambiguous: false } as RetryDecision,
  { kind: 'give-up', ambiguous: true } as RetryDecision,
];

/** The next event for a chart in `s`, from a generated step: answers match what the chart asked for where they can. */
function eventFor(st: Step, s: ChartState, now: number, lastDelay: EventObject | undefined, seq: { n: bigint }): PlayerEvent | EventObject {
  if (st.kind === 'desire') {
    const activity = st.players === null ? null : content(st.players, st.restriction);
    return { type: 'DESIRE', now, groupId: 'm1', activity, sequenceNumber: activity ? ++seq.n : undefined, reason: activity ? st.reason : 'leave' };
  }
  const request = requestFor(s.context) ?? { method: 'PUT' as const, groupId: 'm1', activity: content(2), sequenceNumber: undefined, reason: 'count' as const };
  switch (st.how) {
    case 'sent':
      return { type: 'SENT', now, startedAt: now - st.n, request: { ...request, sequenceNumber: request.sequenceNumber ?? ++seq.n } };
    case 'skipped':
      return { type: 'SKIPPED', now };
    case 'wait':
      return { type: 'WAIT', now, ms: 1000 * st.n };
    case 'failed':
      return { type: 'FAILED', now, request, decision: DECISIONS[st.n % DECISIONS.length]! };
    case 'verified':
      return { type: 'VERIFIED', now, holds: (['ours', 'newer', 'none'] as const)[st.n % 3]!, activity: st.n % 2 ? s.context.desired : null };
    case 'verifyFailed':
      return { type: 'VERIFY_FAILED', now, delayMs: 1000 * st.n };
    case 'flush':
      return { type: 'FLUSH', now };
    case 'keepalive':
      return { type: 'KEEPALIVE' };
    case 'delay':
      return lastDelay ?? { type: 'FLUSH', now };
  }
}

describe('ChartRunner: learned transitions', () => {
  it('replaying a learned transition gives what XState computes, step by step, on any sequence of events', () => {
    const machine = createPlayerMachine();
    // One learning runner for every run: later runs replay what earlier ones learned.
    const learned = new ChartRunner(machine, input('x0'));
    const plain = new ChartRunner(machine, input('x0'), { learn: false });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), fc.integer({ min: 0, max: 4000 }), (steps, gap) => {
        let a = learned.fresh(input('1'));
        let b = plain.fresh(input('1'));
        let now = 1000;
        let lastDelay: EventObject | undefined;
        const seq = { n: 0n };
        for (const st of steps) {
          now += gap;
          const event = eventFor(st, b, now, lastDelay, seq);
          const [a2, fromA] = learned.step(a, event);
          const [b2, fromB] = plain.step(b, event);
          expect(a2.value).toBe(b2.value);
          expect(a2.context).toEqual(b2.context);
          expect(fromA).toEqual(fromB);
          for (const e of fromB) if (e.kind === 'schedule') lastDelay = e.event;
          a = a2;
          b = b2;
        }
      }),
      { numRuns: 400 },
    );
    // The comparison meant something: most steps were replayed, and XState computed the rest.
    expect(learned.steps.replayed).toBeGreaterThan(learned.steps.computed);
    expect(plain.steps.replayed).toBe(0);
  });

  it('an event the state does not handle is never learned: XState leaves the context as it was', () => {
    const runner = new ChartRunner(createPlayerMachine(), input('x0'));
    const idle = runner.fresh(input('1'));
    for (let i = 0; i < 3; i++) {
      const [after, effects] = runner.step(idle, sent(1, 1000 + i));
      expect(after.value).toBe('idle');
      expect(after.context).toEqual(idle.context);
      expect(effects).toEqual([]);
    }
    expect(runner.steps.replayed).toBe(0);
  });
});
