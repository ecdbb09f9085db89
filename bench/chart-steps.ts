/**
 * What one step of the player chart costs, four ways, on the same events (a join, a merged
 * count change, the answer): a live actor per player (create, start, send, stop), XState's
 * exported `transition()` (a throwaway actor and system per call), the engine's ChartRunner
 * with every step computed by XState (`machine.transition` with one scope for all players),
 * and the ChartRunner as the engine runs it (learned transitions replayed). CPU µs per player
 * per phase, all players alive at once as in the engine.
 *
 *   node --expose-gc --import tsx bench/chart-steps.ts [players]
 */
import { createActor, initialTransition, transition, type Actor, type SnapshotFrom } from 'xstate';
import { ChartRunner, type ChartState } from '../src/engine/chart-runner.js';
import { createPlayerMachine, type PlayerEvent, type PlayerMachine } from '../src/engine/player-machine.js';

const machine = createPlayerMachine();
const players = Number(process.argv[2] ?? 20_000);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const content = (n: number) => ({ connectionString: '10.0.0.1:7777', joinRestriction: 'Followed' as const, currentPlayers: n, maxPlayers: 8, groupId: 'm1' });
const input = (i: number) => ({ xuid: String(2533274800000000n + BigInt(i)), groupId: 'm1', keepAliveMs: 3_600_000, countRefreshIntervalMs: 0 });
const events: (() => PlayerEvent)[] = [
  () => ({ type: 'DESIRE', now: 1, groupId: 'm1', activity: content(1), sequenceNumber: 1n, reason: 'join' }),
  () => ({ type: 'DESIRE', now: 2, groupId: 'm1', activity: content(8), sequenceNumber: 2n, reason: 'count' }),
  () => ({ type: 'SENT', now: 3, startedAt: 2, request: { method: 'PUT', groupId: 'm1', activity: content(8), sequenceNumber: 2n, reason: 'join' } }),
];
const PHASES = ['join', 'merged count', 'answer'] as const;

function phase(out: Record<string, number>, label: string, each: (i: number) => void): void {
  gc();
  const c0 = cpu();
  for (let i = 0; i < players; i++) each(i);
  out[label] = Math.round(((cpu() - c0) / players) * 10) / 10;
}

function liveActors(): Record<string, number> {
  const out: Record<string, number> = {};
  const actors: Actor<PlayerMachine>[] = new Array(players);
  phase(out, 'create+start', (i) => {
    const actor = createActor(machine, { input: input(i) });
    actor.on('*', () => undefined);
    actors[i] = actor.start();
  });
  PHASES.forEach((name, k) => phase(out, name, (i) => actors[i]!.send(events[k]!())));
  phase(out, 'stop', (i) => actors[i]!.stop());
  return out;
}

function exportedTransition(): Record<string, number> {
  const out: Record<string, number> = {};
  const snapshots: SnapshotFrom<PlayerMachine>[] = new Array(players);
  phase(out, 'initial', (i) => void (snapshots[i] = initialTransition(machine, input(i))[0]));
  PHASES.forEach((name, k) => phase(out, name, (i) => void (snapshots[i] = transition(machine, snapshots[i]!, events[k]!())[0])));
  return out;
}

function chartRunner(learn: boolean): Record<string, number> {
  const out: Record<string, number> = {};
  const runner = new ChartRunner(machine, input(0), { learn });
  const states: ChartState[] = new Array(players);
  phase(out, 'initial', (i) => void (states[i] = runner.initial(input(i))[0]));
  PHASES.forEach((name, k) => phase(out, name, (i) => void (states[i] = runner.step(states[i]!, events[k]!())[0])));
  return out;
}

for (let round = 0; round < 3; round++) {
  console.log(JSON.stringify({ players, live: liveActors(), transition: exportedTransition(), runnerXState: chartRunner(false), runnerLearned: chartRunner(true) }));
}
