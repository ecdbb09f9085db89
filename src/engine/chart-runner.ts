/**
 * Runs the player chart without a live actor per player. A player's place in the chart is a
 * {@link ChartState}: the state as a dotted path and the context. A step goes through XState
 * v5's pure transition (`machine.transition(snapshot, event, scope)`), which returns the next
 * snapshot and reports the actions to execute instead of executing them; the engine executes
 * them: emitted events become the engine's, the chart's `after` delays become timers on the
 * engine's clock (cancelled when the state is left).
 *
 * Why not `transition()` from 'xstate': it builds a throwaway actor and actor system on every
 * call (measured: about 50 µs a step). One scope built once serves every player of an engine:
 * a step then costs about 10 µs, and there is no actor to create, start or stop per player.
 * The scope's `self` is an actor that is never started: the chart's actions never use `self`
 * or `system`.
 *
 * **Learned transitions.** Even so, XState's step (selecting among guarded transitions, exit and
 * entry sets, copying the snapshot and context for each assign) was a third of the engine's CPU
 * per request. In this chart, every event of {@link REDUCED_EVENTS} is routed by one pure
 * function: `reduce(context, event, state)` gives the next context and its `next` field names
 * the transition the guards select. So what XState does for such an event depends on the
 * context only through `reduce` and the emit builders: the source state, the event type and
 * `next` fix the target, the actions and their order. The first time a (state, event type,
 * next) comes up, XState computes the step and the runner records its shape (target, emits,
 * delays, cancels); later ones replay it: `reduce`, then the recorded effects built with the
 * chart's own builders ({@link emitted}, the `wait` delay's `delayMs`). A shape is only kept if
 * replaying it on that first step gives exactly what XState gave (same state, same context
 * fields, same effects, in order); otherwise that transition always goes through XState.
 * Events outside that set (`KEEPALIVE`, the chart's own delayed events) always do. The chart
 * stays the one description of the behaviour; a differential test runs random event sequences
 * through both paths and compares every step.
 */
import { createActor, type ActorScope, type ActorSystem, type EventObject, type ExecutableActionObject, type SnapshotFrom, type StateValue } from 'xstate';
import {
  emitted,
  initialContext,
  reduce,
  REDUCED_EVENTS,
  type ChartStateValue,
  type PlayerContext,
  type PlayerEmitted,
  type PlayerEvent,
  type PlayerInput,
  type PlayerMachine,
} from './player-machine.js';

/** A player's place in the chart between events: the state as a dotted path, and the context. */
export interface ChartState {
  readonly value: ChartStateValue;
  readonly context: PlayerContext;
}

/** What a step asks the engine to do, in the order the chart gave it. */
export type ChartEffect =
  | { kind: 'emit'; event: PlayerEmitted }
  /** An `after` delay was entered: deliver `event` to the chart in `delayMs`. */
  | { kind: 'schedule'; id: string; event: EventObject; delayMs: number }
  /** The state of the delay with this id was left: the delayed event must not arrive. */
  | { kind: 'cancel'; id: string };

/** Options of {@link ChartRunner}. */
export interface ChartRunnerOptions {
  /** Replay learned transitions (default true); false: every step goes through XState. */
  learn?: boolean;
}

/** One recorded effect, rebuilt from the context (and event) of each replayed step. */
type EffectShape =
  | { kind: 'state'; state: Extract<PlayerEmitted, { type: 'state' }>['state'] }
  | { kind: 'paced'; paced: boolean }
  | { kind: 'send' }
  | { kind: 'verify' }
  | { kind: 'synced' }
  | { kind: 'schedule'; id: string; event: EventObject }
  | { kind: 'cancel'; id: string };

/** The shape of a learned transition; `null`: not replayable, always ask XState. */
type Shape = { value: ChartStateValue; effects: EffectShape[] } | null;

const NO_EFFECTS: readonly ChartEffect[] = Object.freeze([]);

type PlayerSnapshot = SnapshotFrom<PlayerMachine>;

/** Steps player charts of one machine, for one engine (no state between steps but the scope and the learned shapes). */
export class ChartRunner {
  readonly #machine: PlayerMachine;
  readonly #scope: ActorScope<PlayerSnapshot, PlayerEvent, ActorSystem<any>, PlayerEmitted>;
  /** Actions reported during the step under way (a fresh array per step: steps may nest). */
  #actions: ExecutableActionObject[] = [];
  /** Learned shapes by state, event type, then `next`. */
  readonly #shapes = new Map<string, Map<string, Map<string, Shape>>>();
  readonly #learn: boolean;
  #replayed = 0;
  #computed = 0;

  constructor(machine: PlayerMachine, input: PlayerInput, options: ChartRunnerOptions = {}) {
    this.#machine = machine;
    this.#learn = options.learn ?? true;
    const self = createActor(machine, { input });
    this.#scope = {
      self,
      id: '',
      sessionId: '',
      logger: () => undefined,
      // Only the executors of the actions defer or emit; we execute the actions ourselves.
      defer: () => undefined,
      emit: () => undefined,
      system: self.system,
      stopChild: () => undefined,
      actionExecutor: (action) => {
        this.#actions.push(action);
      },
    };
  }

  /** Steps replayed from a learned transition, and steps XState computed. */
  get steps(): { replayed: number; computed: number } {
    return { replayed: this.#replayed, computed: this.#computed };
  }

  /** A new player's state and the effects of entering the initial state, as XState computes them. */
  initial(input: PlayerInput): [ChartState, readonly ChartEffect[]] {
    const actions = (this.#actions = []);
    const snapshot = this.#machine.getInitialSnapshot(this.#scope, input);
    return [stateOf(snapshot), effectsOf(actions)];
  }

  /**
   * A new player's state, without a step: the initial state is `idle`, a resting state whose
   * only entry effect is reporting `idle`, which a new player already is. The context is the
   * one the chart's own context factory builds.
   */
  fresh(input: PlayerInput): ChartState {
    return { value: 'idle', context: initialContext(input) };
  }

  /** The state after `event`, and what the engine must do. A `gone` player stays gone. */
  step(state: ChartState, event: PlayerEvent | EventObject): [ChartState, readonly ChartEffect[]] {
    if (state.value === 'gone') return [state, NO_EFFECTS];
    if (!this.#learn || !isReduced(event)) return this.#compute(state, event);
    const c = state.context;
    const n = reduce(c, event, state.value);
    let byType = this.#shapes.get(state.value);
    if (!byType) this.#shapes.set(state.value, (byType = new Map()));
    let byNext = byType.get(event.type);
    if (!byNext) byType.set(event.type, (byNext = new Map()));
    const shape = byNext.get(n.next);
    if (shape) {
      this.#replayed++;
      return [{ value: shape.value, context: n }, replay(shape.effects, c, event, n)];
    }
    const computed = this.#compute(state, event);
    if (shape === undefined) byNext.set(n.next, this.#handles(state.value, event.type) ? learn(computed, c, event, n) : null);
    return computed;
  }

  /** The step as XState computes it, from a snapshot rebuilt from the state and context. */
  #compute(state: ChartState, event: PlayerEvent | EventObject): [ChartState, readonly ChartEffect[]] {
    this.#computed++;
    const snapshot = this.#machine.resolveState({ value: nested(state.value), context: state.context });
    const outer = this.#actions;
    const actions = (this.#actions = []);
    // A delayed event is the chart's own (`xstate.after.*`), handed back as XState's scheduler
    // would hand it to a live actor; every other event is a PlayerEvent.
    const next = this.#machine.transition(snapshot, event as PlayerEvent, this.#scope);
    this.#actions = outer;
    return [stateOf(next), effectsOf(actions)];
  }

  /**
   * Whether the chart declares `type` on the state or one of its ancestors: an event the
   * state ignores must not be learned (XState would leave the context as it is, not reduce it).
   */
  #handles(value: ChartStateValue, type: string): boolean {
    let node: { on?: unknown; states?: Record<string, unknown> } | undefined = this.#machine.config as { on?: unknown; states?: Record<string, unknown> };
    for (const key of value.split('.')) {
      node = node?.states?.[key] as typeof node;
      if (node?.on && typeof node.on === 'object' && Object.hasOwn(node.on, type)) return true;
    }
    return false;
  }
}

function isReduced(event: PlayerEvent | EventObject): event is PlayerEvent & { now: number } {
  return REDUCED_EVENTS.has(event.type);
}

function stateOf(snapshot: PlayerSnapshot): ChartState {
  return { value: dotted(snapshot.value) as ChartStateValue, context: snapshot.context };
}

function dotted(value: StateValue): string {
  if (typeof value === 'string') return value;
  const [key, inner] = Object.entries(value)[0]!;
  return inner === undefined ? key : `${key}.${dotted(inner)}`;
}

/** A dotted state as XState's state value: `updating.sending` is `{ updating: 'sending' }`. */
function nested(value: string): StateValue {
  const dot = value.indexOf('.');
  return dot === -1 ? value : { [value.slice(0, dot)]: nested(value.slice(dot + 1)) };
}

function replay(shapes: readonly EffectShape[], c: PlayerContext, event: PlayerEvent, n: PlayerContext): readonly ChartEffect[] {
  if (shapes.length === 0) return NO_EFFECTS;
  const effects: ChartEffect[] = new Array(shapes.length);
  for (let i = 0; i < shapes.length; i++) effects[i] = build(shapes[i]!, c, event, n);
  return effects;
}

/** One effect of a learned step: emits see the context after `apply`, but `synced` (a transition action before it) the one before. */
function build(shape: EffectShape, c: PlayerContext, event: PlayerEvent, n: PlayerContext): ChartEffect {
  switch (shape.kind) {
    case 'state':
      return { kind: 'emit', event: emitted.state(n, shape.state) };
    case 'paced':
      return { kind: 'emit', event: emitted.paced(n, shape.paced) };
    case 'send':
      return { kind: 'emit', event: emitted.send(n) };
    case 'verify':
      return { kind: 'emit', event: emitted.verify(n) };
    case 'synced':
      return { kind: 'emit', event: emitted.synced(c, event) };
    case 'schedule':
      // The `wait` delay is the context's `delayMs`, which `reduce` computed.
      return { kind: 'schedule', id: shape.id, event: shape.event, delayMs: n.delayMs };
    case 'cancel':
      return { kind: 'cancel', id: shape.id };
  }
}

/** The shape of a step XState computed, if replaying it gives exactly the same; otherwise null. */
function learn([after, effects]: [ChartState, readonly ChartEffect[]], c: PlayerContext, event: PlayerEvent, n: PlayerContext): Shape {
  const shapes: EffectShape[] = [];
  for (const effect of effects) {
    if (effect.kind === 'cancel') shapes.push({ kind: 'cancel', id: effect.id });
    else if (effect.kind === 'schedule') shapes.push({ kind: 'schedule', id: effect.id, event: effect.event });
    else if (effect.event.type === 'state') shapes.push({ kind: 'state', state: effect.event.state });
    else if (effect.event.type === 'paced') shapes.push({ kind: 'paced', paced: effect.event.paced });
    else shapes.push({ kind: effect.event.type });
  }
  const shape = { value: after.value, effects: shapes };
  const replayed = replay(shapes, c, event, n);
  const same = sameFields(after.context, n) && replayed.length === effects.length && replayed.every((e, i) => sameFields(e, effects[i]!));
  return same ? shape : null;
}

/** Same own keys with the same values (one level deeper for an emitted event). */
function sameFields(a: object, b: object): boolean {
  const keysA = Object.keys(a);
  if (keysA.length !== Object.keys(b).length) return false;
  for (const key of keysA) {
    const x = (a as Record<string, unknown>)[key];
    const y = (b as Record<string, unknown>)[key];
    if (Object.is(x, y)) continue;
    if (key !== 'event' || typeof x !== 'object' || typeof y !== 'object' || x === null || y === null || !sameFields(x, y)) return false;
  }
  return true;
}

function effectsOf(actions: readonly ExecutableActionObject[]): ChartEffect[] {
  const effects: ChartEffect[] = [];
  for (const action of actions) {
    const params = action.params;
    if (typeof params !== 'object' || params === null) continue;
    if (action.type === 'xstate.emit' && 'event' in params) {
      // The machine's setup() declares every emitted event as a PlayerEmitted.
      effects.push({ kind: 'emit', event: params.event as PlayerEmitted });
    } else if (action.type === 'xstate.raise' && 'delay' in params && typeof params.delay === 'number' && 'event' in params && 'id' in params) {
      effects.push({ kind: 'schedule', id: String(params.id), event: params.event as EventObject, delayMs: params.delay });
    } else if (action.type === 'xstate.cancel' && 'sendId' in params) {
      effects.push({ kind: 'cancel', id: String(params.sendId) });
    }
  }
  return effects;
}
