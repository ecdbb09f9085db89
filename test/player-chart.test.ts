/**
 * The player chart, tested as a model: @xstate/graph walks every state the chart can reach
 * under every event the engine can send, and each path is replayed and checked for the
 * properties a game server relies on. Then the chart is edited the way XState's docs edit a
 * machine (`machine.provide`), and the engine behaves exactly as the edited chart says.
 */
import { getShortestPaths } from '@xstate/graph';
import { createActor, type AnyStateMachine, type EventObject, type SnapshotFrom } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivitySync } from '../src/engine/activity-sync.js';
import { ChartStepper } from '../src/engine/chart-step.js';
import type { ActivityContent } from '../src/engine/desired.js';
import { createPlayerMachine, requestFor, type PlayerContext, type PlayerEmitted, type PlayerEvent, type PlayerMachine, type WriteRequest } from '../src/engine/player-chart.js';
import type { RetryDecision } from '../src/engine/retry-policy.js';
import { P, rig, settle, type Rig } from './engine-helpers.js';

type Snap = SnapshotFrom<PlayerMachine>;

const content = (over: Partial<ActivityContent> = {}): ActivityContent => ({ connectionString: 'c', joinRestriction: 'Followed', currentPlayers: 1, maxPlayers: 4, groupId: 'g', ...over });
const A1 = content();
const A2 = content({ currentPlayers: 2 });
const AI = content({ joinRestriction: 'InviteOnly' });
const AFULL = content({ currentPlayers: 4 });
const desire = (activity: ActivityContent | null, reason: 'join' | 'count' | 'settings' | 'leave'): PlayerEvent => ({ type: 'DESIRE', groupId: 'g', activity, reason, at: 1_700_000_000_000 });
const retry = (ambiguous: boolean): RetryDecision => ({ kind: 'retry', delayMs: 1000, scope: 'user', retryAfterMs: undefined, ambiguous });

/**
 * Time for the model: each snapshot remembers the time it was reached at; a delayed event
 * moves time to the deadline it waited for. The chart reads `now()` from here.
 */
function timedModel() {
  let t = 0;
  const timeOf = new WeakMap<object, number>();
  /** The request on the wire, for the SENT and FAILED answers the engine would give. */
  const wire = new WeakMap<object, WriteRequest>();
  const machine = createPlayerMachine({ now: () => t });
  const deadline = (type: string, c: PlayerContext): number => {
    if (type.includes('.pace.')) return (c.wrongSince ?? t) + c.countRefreshIntervalMs;
    if (type.includes('.budgetDelay.')) return c.waitAt;
    return c.retryAt;
  };
  const transition = (snapshot: Snap, event: EventObject, scope: unknown): Snap => {
    t = timeOf.get(snapshot) ?? 0;
    if (event.type.startsWith('xstate.after.')) t = Math.max(t, deadline(event.type, snapshot.context));
    const next = machine.transition(snapshot, event as PlayerEvent, scope as never) as Snap;
    timeOf.set(next, t);
    const request = event.type === 'STARTED' ? requestFor(snapshot.context) : wire.get(snapshot);
    if (request && isInFlight(next)) wire.set(next, request);
    return next;
  };
  const logic = Object.assign(Object.create(machine) as PlayerMachine, { transition });
  return { machine, logic, wire, timeOf };
}

const isInFlight = (s: Snap) => s.matches({ updating: 'inFlight' }) || s.matches({ leaving: 'inFlight' });

/** Every event the engine could send the chart in this state. */
function eventsFor(wire: WeakMap<object, WriteRequest>) {
  return (s: Snap): PlayerEvent[] => {
    const out: PlayerEvent[] = [desire(A1, 'join'), desire(A2, 'count'), desire(AI, 'settings'), desire(AFULL, 'count'), desire(null, 'leave'), { type: 'FLUSH' }, { type: 'KEEPALIVE' }];
    if (s.hasTag('queued')) out.push(requestFor(s.context) ? { type: 'STARTED' } : { type: 'SKIPPED' }, { type: 'WAIT', ms: 1000 });
    const request = wire.get(s);
    if (isInFlight(s) && request) {
      out.push(
        { type: 'SENT', request, sequenceNumber: 1n },
        { type: 'FAILED', request, decision: retry(true) },
        { type: 'FAILED', request, decision: retry(false) },
        { type: 'FAILED', request, decision: { kind: 'superseded' } },
        { type: 'FAILED', request, decision: { kind: 'give-up', ambiguous: false } },
      );
    }
    for (const [where, delay] of [
      ['updating.pacing', 'pace'],
      ['updating.waiting', 'budgetDelay'],
      ['updating.backingOff', 'retryDelay'],
      ['leaving.waiting', 'budgetDelay'],
      ['leaving.backingOff', 'retryDelay'],
    ] as const) {
      const [top, sub] = where.split('.') as [string, string];
      if (s.matches({ [top]: sub } as never)) out.push({ type: `xstate.after.${delay}.player.${where}` } as unknown as PlayerEvent);
    }
    return out;
  };
}

const summary = (s: Snap, timeOf: WeakMap<object, number>) => {
  const c = s.context;
  const t = timeOf.get(s) ?? 0;
  return JSON.stringify([s.value, c.desired && [c.desired.currentPlayers, c.desired.joinRestriction], c.published && [c.published.currentPlayers, c.published.joinRestriction], c.superseded, c.abandoned, c.mayHold, c.keepAliveDue, c.flushing, c.retryAt > t, c.waitAt > t, c.wrongSince !== undefined, c.joining]);
};

describe('the player chart as a model', () => {
  const { machine, logic, wire, timeOf } = timedModel();
  const input = { xuid: P(1), groupId: 'g', countRefreshIntervalMs: 15_000 };
  const paths = getShortestPaths(logic as AnyStateMachine, { events: eventsFor(wire) as never, input, serializeState: (s) => summary(s as Snap, timeOf), serializeEvent: (e) => JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)) });
  const stepper = new ChartStepper<PlayerMachine, PlayerEmitted>(logic, input);

  /** Replays a path, recording what the chart emitted at each step. */
  function replay(steps: readonly { event: EventObject }[]) {
    let [s] = stepper.initial(input);
    timeOf.set(s, 0);
    const trace: { before: Snap; event: EventObject; after: Snap; emitted: PlayerEmitted[] }[] = [];
    for (const { event } of steps) {
      if (event.type === 'xstate.init') continue;
      const before = s;
      const [after, effects] = stepper.step(s, event);
      s = after;
      trace.push({ before, event, after, emitted: effects.flatMap((e) => (e.kind === 'emit' ? [e.event] : [])) });
    }
    return { end: s, trace };
  }

  /** The engine answers every request and lets every wait pass, with no new change. */
  function quiesce(s: Snap): Snap {
    for (let i = 0; i < 50 && !s.hasTag('settled'); i++) {
      const event = eventsFor(wire)(s).find((e) => e.type === 'STARTED' || e.type === 'SKIPPED' || e.type === 'SENT' || e.type.startsWith('xstate.after.'));
      if (!event) break;
      s = stepper.step(s, event)[0];
    }
    return s;
  }

  it('reaches every state of the chart', () => {
    const reached = new Set(paths.map((p) => JSON.stringify(p.state.value)));
    for (const value of ['"idle"', '"active"', '"gone"', '{"updating":"pacing"}', '{"updating":"waiting"}', '{"updating":"backingOff"}', '{"updating":"queued"}', '{"updating":"inFlight"}', '{"leaving":"waiting"}', '{"leaving":"backingOff"}', '{"leaving":"queued"}', '{"leaving":"inFlight"}']) {
      expect(reached, value).toContain(value);
    }
    expect(paths.length).toBeGreaterThan(100);
  });

  it('on every path: at most one request under way, nothing after gone, a superseded player sends nothing until a change, a leave never waits behind a queued write', () => {
    for (const path of paths) {
      const { trace } = replay(path.steps);
      let superseded = false;
      for (const { before, event, after, emitted } of trace) {
        const sends = emitted.filter((e) => e.type === 'send');
        expect(sends.length, 'one send per step at most').toBeLessThanOrEqual(1);
        if (sends.length) expect(isInFlight(before) && isInFlight(after), 'no send while a request is on the wire').toBe(false);
        if (before.status === 'done') expect(emitted, 'nothing after gone').toEqual([]);
        if (event.type === 'FAILED' && (event as Extract<PlayerEvent, { type: 'FAILED' }>).decision.kind === 'superseded') superseded = true;
        else if (event.type === 'DESIRE') superseded = false;
        else if (superseded) expect(sends, 'a superseded player waits for a change').toEqual([]);
        const leave = event.type === 'DESIRE' && (event as Extract<PlayerEvent, { type: 'DESIRE' }>).activity === null;
        if (leave && (before.hasTag('queued') || before.matches({ updating: 'waiting' }) || before.matches({ updating: 'pacing' })) && after.status !== 'done' && after.context.retryAt <= (timeOf.get(after) ?? 0)) {
          const asked = sends[0]?.type === 'send' ? sends[0].priority : undefined;
          expect(asked === 0 || after.matches({ leaving: 'waiting' }), 'a leave asks at once, at leave priority').toBe(true);
        }
      }
    }
  });

  it('every path that stops receiving changes ends settled', () => {
    for (const path of paths) {
      const { end } = replay(path.steps);
      expect(quiesce(end).hasTag('settled'), summary(end, timeOf)).toBe(true);
    }
  });

  it('the chart is what runs: a live XState actor of the same machine takes the same path', () => {
    for (const path of paths.slice(0, 200)) {
      const { end, trace } = replay(path.steps);
      let t = 0;
      const live = createActor(createPlayerMachine({ now: () => t }), { input }).start();
      for (const { event, after } of trace) {
        if (event.type.startsWith('xstate.after.')) continue; // the live actor's own timers
        t = timeOf.get(after) ?? t;
        live.send(event as PlayerEvent);
      }
      if (!trace.some((s) => s.event.type.startsWith('xstate.after.'))) expect(live.getSnapshot().value).toEqual(end.value);
      live.stop();
    }
    expect(machine.id).toBe('player');
  });
});

describe('edited the XState way, the engine follows the chart', () => {
  let r: Rig | undefined;
  afterEach(async () => {
    await r?.dispose();
    r = undefined;
  });

  it('a guard that gives up after 3 attempts: with 20 injected 500s the engine sends 3 PUTs and rests in idle', async () => {
    r = await rig({ sync: {} });
    const { clock, client, emulator } = r;
    await r.sync.close({ timeoutMs: 1 });
    const sync = new ActivitySync(
      { client },
      { machine: (deps) => createPlayerMachine(deps).provide({ guards: { canRetry: ({ context, event }) => (event as Extract<PlayerEvent, { type: 'FAILED' }>).decision.kind === 'retry' && context.attempt < 2 } }) },
    );
    emulator.core.failNext('500', 20);
    sync.group({ groupId: 'm', connectionString: 'c', maxPlayers: 4 }).join(P(1));
    await settle(clock, sync.flush(), 600_000, 100);
    expect(r.writesOf(P(1)).map((w) => w.status)).toEqual([500, 500, 500]);
    expect(sync.playerState(P(1))).toBe('idle');
    await settle(clock, sync.close({ timeoutMs: 1000 }), 60_000, 100);
  });

  it('a different pacing delay: a count change waits exactly as long as the edited delay says, as a live actor of the same chart does', async () => {
    r = await rig({ sync: {} });
    const { clock, client } = r;
    await r.sync.close({ timeoutMs: 1 });
    const edit = (m: PlayerMachine) => m.provide({ delays: { pace: 7_000 } });
    const sync = new ActivitySync({ client, countRefreshIntervalMs: 1_000 }, { machine: (deps) => edit(createPlayerMachine(deps)) });
    const match = sync.group({ groupId: 'm', connectionString: 'c', maxPlayers: 8 });
    match.join(P(1));
    await settle(clock, sync.flush(), 60_000, 100);
    const changedAt = Date.now();
    match.join(P(2)); // a count change for P(1)
    await clock.tickAsync(20_000);
    const second = r.writesOf(P(1))[1]!;
    expect(second.time - changedAt).toBe(7_000);

    // The same edit in a live actor on a simulated clock waits as long.
    let t = 0;
    const timers: { at: number; fn: () => void }[] = [];
    const live = createActor(edit(createPlayerMachine({ now: () => t })), {
      input: { xuid: P(1), groupId: 'm', countRefreshIntervalMs: 1_000 },
      clock: { setTimeout: (fn: () => void, ms: number) => timers.push({ at: t + ms, fn }), clearTimeout: () => undefined } as never,
    }).start();
    live.send(desire(A1, 'join'));
    live.send({ type: 'STARTED' });
    live.send({ type: 'SENT', request: { method: 'PUT', groupId: 'g', activity: A1, reason: 'join', joinability: true }, sequenceNumber: 1n });
    live.send(desire(A2, 'count'));
    expect(live.getSnapshot().matches({ updating: 'pacing' })).toBe(true);
    expect(timers.at(-1)!.at).toBe(7_000);
    live.stop();
    await settle(clock, sync.close({ timeoutMs: 1000 }), 60_000, 100);
  });
});
