import { createActor } from 'xstate';
import { describe, expect, it } from 'vitest';
import { ChartRunner, type ChartEffect } from '../src/engine/chart-runner.js';
import { createPlayerMachine, type PlayerEvent } from '../src/engine/player-machine.js';

const input = (xuid: string) => ({ xuid, groupId: 'm1', keepAliveMs: 3_600_000, countRefreshIntervalMs: 15_000 });
const content = (currentPlayers: number) => ({ connectionString: '203.0.113.7:7777', joinRestriction: 'Followed' as const, currentPlayers, maxPlayers: 8, groupId: 'm1' });
const join: PlayerEvent = { type: 'DESIRE', now: 1000, groupId: 'm1', activity: content(1), sequenceNumber: 1n, reason: 'join' };
const sent = (n: number, now: number): PlayerEvent => ({ type: 'SENT', now, startedAt: now, request: { method: 'PUT', groupId: 'm1', activity: content(n), sequenceNumber: BigInt(n), reason: 'join' } });
/** A new player's snapshot, as the engine makes it: fresh() restored. */
const begin = (runner: ChartRunner, i: ReturnType<typeof input>) => {
  const { value, context } = runner.fresh(i);
  return [runner.restore(value, context)] as const;
};
const emitted = (effects: ChartEffect[]) => effects.flatMap((e) => (e.kind === 'emit' ? [e.event.type] : []));

describe('ChartRunner: the player chart without a live actor', () => {
  it('a join enters updating and asks the engine to send, in the order the chart emits', () => {
    const runner = new ChartRunner(createPlayerMachine(), input('x0'));
    const [start] = begin(runner, input('1'));
    const [next, effects] = runner.step(start, join);
    expect(next.value).toEqual({ updating: 'sending' });
    expect(effects.filter((e) => e.kind === 'emit').map((e) => e.kind === 'emit' && e.event)).toEqual([
      { type: 'state', xuid: '1', state: 'updating' },
      { type: 'send', xuid: '1', priority: 1 },
    ]);
  });

  it('a paced count change becomes a delay of the pacing interval, cancelled when the state is left', () => {
    const runner = new ChartRunner(createPlayerMachine(), input('x0'));
    let [s] = begin(runner, input('1'));
    [s] = runner.step(s, join);
    [s] = runner.step(s, sent(1, 1000));
    expect(s.value).toBe('active');
    const [paced, effects] = runner.step(s, { type: 'DESIRE', now: 2000, groupId: 'm1', activity: content(2), sequenceNumber: 2n, reason: 'count' });
    expect(paced.value).toEqual({ updating: 'pacing' });
    const schedule = effects.find((e) => e.kind === 'schedule');
    expect(schedule).toMatchObject({ kind: 'schedule', delayMs: 15_000 });

    const [leaving, onLeave] = runner.step(paced, { type: 'DESIRE', now: 3000, groupId: 'm1', activity: null, sequenceNumber: undefined, reason: 'leave' });
    expect(leaving.value).toEqual({ leaving: 'sending' });
    expect(onLeave).toContainEqual({ kind: 'cancel', id: schedule?.kind === 'schedule' ? schedule.id : 'none' });
    expect(emitted(onLeave)).toContain('send');
  });

  it('the delayed event, handed back, moves the chart on as the after delay says', () => {
    const runner = new ChartRunner(createPlayerMachine(), input('x0'));
    let [s] = begin(runner, input('1'));
    [s] = runner.step(s, join);
    const [waiting, entered] = runner.step(s, { type: 'WAIT', now: 1000, ms: 5000 });
    expect(waiting.value).toEqual({ updating: 'waiting' });
    const delay = entered.find((e) => e.kind === 'schedule');
    if (delay?.kind !== 'schedule') throw new Error('no delay scheduled');
    expect(delay.delayMs).toBe(5000);
    const [after, fired] = runner.step(waiting, delay.event);
    expect(after.value).toEqual({ updating: 'sending' });
    expect(emitted(fired)).toEqual(['send']);
  });

  it('one runner serves many players: each snapshot keeps its own player', () => {
    const runner = new ChartRunner(createPlayerMachine(), input('x0'));
    const [a] = begin(runner, input('A'));
    const [b] = begin(runner, input('B'));
    const [a1, fromA] = runner.step(a, join);
    const [, fromB] = runner.step(b, join);
    expect(fromA.map((e) => e.kind === 'emit' && e.event.xuid)).toEqual(['A', 'A']);
    expect(fromB.map((e) => e.kind === 'emit' && e.event.xuid)).toEqual(['B', 'B']);
    expect(a1.context.xuid).toBe('A');
    expect(b.value).toBe('idle');
  });

  it('a new player needs no step: fresh() is the initial state XState computes, and a join from it does what it does from there', () => {
    const machine = createPlayerMachine();
    const runner = new ChartRunner(machine, input('x0'));
    // The initial snapshot as a live actor of the same machine computes it.
    const reference = createActor(machine, { input: input('1') }).getSnapshot();
    const fresh = runner.fresh(input('1'));
    expect(fresh).toEqual({ value: reference.value, context: reference.context });
    const [fromReference, effectsA] = runner.step(reference, join);
    const [fromFresh, effectsB] = runner.step(runner.restore(fresh.value, fresh.context), join);
    expect(fromFresh.value).toEqual(fromReference.value);
    expect(fromFresh.context).toEqual(fromReference.context);
    expect(effectsB).toEqual(effectsA);
  });

  it('a resting player restored from state and context goes on as if never put away', () => {
    const runner = new ChartRunner(createPlayerMachine(), input('x0'));
    let [s] = begin(runner, input('1'));
    [s] = runner.step(s, join);
    [s] = runner.step(s, sent(1, 1000));
    const restored = runner.restore('active', s.context);
    const [next, effects] = runner.step(restored, { type: 'KEEPALIVE' });
    expect(next.value).toEqual({ updating: 'sending' });
    expect(emitted(effects)).toEqual(['state', 'send']);
  });
});
