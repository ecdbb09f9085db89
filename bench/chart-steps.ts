/**
 * What one step of the player chart costs through XState, three ways, on the same events (a
 * join, the request leaving, a count change while it is on the wire, the answer): a live actor
 * per player (create, start, send, stop), XState's exported `transition()` (a throwaway actor
 * and system per call), and the engine's ChartStepper (`machine.transition` with one scope for
 * all players). CPU µs per player per phase, all players alive at once as in the engine.
 * Information, not a target (bench/RESULTS.md).
 *
 *   node --expose-gc --import tsx bench/chart-steps.ts [players]
 */
import { createActor, initialTransition, transition, type Actor, type SnapshotFrom } from 'xstate';
import { ChartStepper } from '../src/engine/chart-step.js';
import { createPlayerMachine, type PlayerEmitted, type PlayerEvent, type PlayerMachine } from '../src/engine/player-chart.js';

const machine = createPlayerMachine({ now: () => performance.now() });
const players = Number(process.argv[2] ?? 20_000);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const content = (n: number) => ({ connectionString: '10.0.0.1:7777', joinRestriction: 'Followed' as const, currentPlayers: n, maxPlayers: 8, groupId: 'm1' });
const input = (i: number) => ({ xuid: String(2533274800000000n + BigInt(i)), groupId: 'm1', countRefreshIntervalMs: 0 });
const events: (() => PlayerEvent)[] = [
  () => ({ type: 'DESIRE', groupId: 'm1', activity: content(1), reason: 'join', at: Date.now() }),
  () => ({ type: 'STARTED' }),
  () => ({ type: 'DESIRE', groupId: 'm1', activity: content(2), reason: 'count', at: Date.now() }),
  () => ({ type: 'SENT', sequenceNumber: 2n, request: { method: 'PUT', groupId: 'm1', activity: content(1), reason: 'join', joinability: true } }),
];
const PHASES = ['join', 'started', 'count in flight', 'answer'] as const;

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

function chartStepper(): Record<string, number> {
  const out: Record<string, number> = {};
  const stepper = new ChartStepper<PlayerMachine, PlayerEmitted>(machine, input(0));
  const snapshots: SnapshotFrom<PlayerMachine>[] = new Array(players);
  phase(out, 'initial', (i) => void (snapshots[i] = stepper.initial(input(i))[0]));
  PHASES.forEach((name, k) => phase(out, name, (i) => void (snapshots[i] = stepper.step(snapshots[i]!, events[k]!())[0])));
  return out;
}

for (let round = 0; round < 3; round++) {
  console.log(JSON.stringify({ players, live: liveActors(), transition: exportedTransition(), stepper: chartStepper() }));
}
