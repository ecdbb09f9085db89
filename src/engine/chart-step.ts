/**
 * Steps a chart through XState's own pure transition (`machine.transition(snapshot, event,
 * scope)`), with one actor scope shared by every player of an engine, and hands back the
 * actions XState reports instead of executing them: emitted events, and the `after` delays to
 * schedule or cancel. XState selects the transitions, evaluates the guards and delays and
 * applies the assigns; nothing here knows the chart.
 *
 * Why not a live actor per player: each root actor carries an actor system of its own, and a
 * resting player needs only its snapshot. Why not `transition()` from 'xstate': it builds a
 * throwaway actor and system on every call; the shared scope is built once.
 */
import { createActor, type ActorScope, type ActorSystem, type AnyStateMachine, type EventObject, type ExecutableActionObject, type SnapshotFrom } from 'xstate';

/** What a step asks its owner to do, in the order the chart gave it. */
export type ChartEffect<Emitted> =
  | { kind: 'emit'; event: Emitted }
  /** An `after` delay was entered: deliver `event` to the chart in `delayMs`. */
  | { kind: 'schedule'; id: string; event: EventObject; delayMs: number }
  /** The state of the delay with this id was left: its event must not arrive. */
  | { kind: 'cancel'; id: string };

/** Runs steps of one machine for many players. */
export class ChartStepper<TMachine extends AnyStateMachine, Emitted extends EventObject> {
  readonly machine: TMachine;
  readonly #scope: ActorScope<SnapshotFrom<TMachine>, EventObject, ActorSystem<any>, Emitted>;
  /** Actions reported during the step under way. */
  #actions: ExecutableActionObject[] = [];

  constructor(machine: TMachine, input: unknown) {
    this.machine = machine;
    // An actor that is never started: the scope needs a `self` and a `system`, which the
    // chart's actions never use.
    const self = createActor(machine as AnyStateMachine, { input });
    this.#scope = {
      self,
      id: '',
      sessionId: '',
      logger: () => undefined,
      defer: () => undefined,
      emit: () => undefined,
      system: self.system,
      stopChild: () => undefined,
      actionExecutor: (action: ExecutableActionObject) => {
        this.#actions.push(action);
      },
    } as unknown as ActorScope<SnapshotFrom<TMachine>, EventObject, ActorSystem<any>, Emitted>;
  }

  /** A new player's snapshot in the initial state, and the effects of entering it. */
  initial(input: unknown): [SnapshotFrom<TMachine>, ChartEffect<Emitted>[]] {
    const outer = this.#actions;
    const actions = (this.#actions = []);
    const snapshot = this.machine.getInitialSnapshot(this.#scope as never, input) as SnapshotFrom<TMachine>;
    this.#actions = outer;
    return [snapshot, effectsOf<Emitted>(actions)];
  }

  /** The snapshot after `event`, and the effects of the step. */
  step(snapshot: SnapshotFrom<TMachine>, event: EventObject): [SnapshotFrom<TMachine>, ChartEffect<Emitted>[]] {
    const outer = this.#actions;
    const actions = (this.#actions = []);
    const next = this.machine.transition(snapshot, event, this.#scope as never) as SnapshotFrom<TMachine>;
    this.#actions = outer;
    return [next, effectsOf<Emitted>(actions)];
  }
}

function effectsOf<Emitted>(actions: readonly ExecutableActionObject[]): ChartEffect<Emitted>[] {
  const effects: ChartEffect<Emitted>[] = [];
  for (const action of actions) {
    const params = action.params as Record<string, unknown> | undefined;
    if (typeof params !== 'object' || params === null) continue;
    if (action.type === 'xstate.emit') effects.push({ kind: 'emit', event: params.event as Emitted });
    else if (action.type === 'xstate.raise' && typeof params.delay === 'number') {
      effects.push({ kind: 'schedule', id: String(params.id), event: params.event as EventObject, delayMs: params.delay });
    } else if (action.type === 'xstate.cancel') effects.push({ kind: 'cancel', id: String(params.sendId) });
  }
  return effects;
}
