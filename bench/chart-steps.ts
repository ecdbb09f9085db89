/**
 * What one step of the player chart costs through XState, three ways, on the same events (a
 * join, the request leaving, a count change while it is on the wire, the answer): a live actor
 * per player (create, start, send, stop), XState's exported `transition()` (a throwaway actor
 * and system per call), and the engine's ChartStepper (`machine.transition` with one scope for
 * all players). CPU µs per player per phase, all players alive at once as in the engine.
 * Information, not a target (bench/RESULTS.md). Runs in a child process of its own
 * (bench/worker.ts: `steps <players>`).
 */
import { createActor, initialTransition, transition, type Actor, type SnapshotFrom } from 'xstate';
import { ChartStepper } from '../src/engine/chart-step.js';
import { createPlayerMachine, type PlayerEmitted, type PlayerEvent, type PlayerMachine } from '../src/engine/player-chart.js';

const machine = createPlayerMachine({ now: () => performance.now() });
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

/** CPU µs per player of each phase, by phase name. */
export type PhaseCosts = Record<string, number>;

export interface ChartStepCosts {
  players: number;
  rounds: number;
  /** Per way of stepping the chart, the median over the rounds of each phase's cost. */
  live: PhaseCosts;
  transition: PhaseCosts;
  stepper: PhaseCosts;
}

function phase(players: number, out: PhaseCosts, label: string, each: (i: number) => void): void {
  gc();
  const c0 = cpu();
  for (let i = 0; i < players; i++) each(i);
  out[label] = Math.round(((cpu() - c0) / players) * 10) / 10;
}

function liveActors(players: number): PhaseCosts {
  const out: PhaseCosts = {};
  const actors: Actor<PlayerMachine>[] = new Array(players);
  phase(players, out, 'create+start', (i) => {
    const actor = createActor(machine, { input: input(i) });
    actor.on('*', () => undefined);
    actors[i] = actor.start();
  });
  PHASES.forEach((name, k) => phase(players, out, name, (i) => actors[i]!.send(events[k]!())));
  phase(players, out, 'stop', (i) => actors[i]!.stop());
  return out;
}

function exportedTransition(players: number): PhaseCosts {
  const out: PhaseCosts = {};
  const snapshots: SnapshotFrom<PlayerMachine>[] = new Array(players);
  phase(players, out, 'initial', (i) => void (snapshots[i] = initialTransition(machine, input(i))[0]));
  PHASES.forEach((name, k) => phase(players, out, name, (i) => void (snapshots[i] = transition(machine, snapshots[i]!, events[k]!())[0])));
  return out;
}

function chartStepper(players: number): PhaseCosts {
  const out: PhaseCosts = {};
  const stepper = new ChartStepper<PlayerMachine, PlayerEmitted>(machine, input(0));
  const snapshots: SnapshotFrom<PlayerMachine>[] = new Array(players);
  phase(players, out, 'initial', (i) => void (snapshots[i] = stepper.initial(input(i))[0]));
  PHASES.forEach((name, k) => phase(players, out, name, (i) => void (snapshots[i] = stepper.step(snapshots[i]!, events[k]!())[0])));
  return out;
}

/**
 * The three ways, `rounds` times over (each round warms V8 for the next; the median of each
 * phase is kept), `players` alive at once.
 */
export function chartStepCosts(players: number, rounds = 3): ChartStepCosts {
  const runs = Array.from({ length: rounds }, () => ({ live: liveActors(players), transition: exportedTransition(players), stepper: chartStepper(players) }));
  const median = (pick: (run: (typeof runs)[number]) => PhaseCosts): PhaseCosts => {
    const out: PhaseCosts = {};
    for (const name of Object.keys(pick(runs[0]!))) out[name] = runs.map((run) => pick(run)[name]!).sort((a, b) => a - b)[Math.floor(rounds / 2)]!;
    return out;
  };
  return { players, rounds, live: median((r) => r.live), transition: median((r) => r.transition), stepper: median((r) => r.stepper) };
}
