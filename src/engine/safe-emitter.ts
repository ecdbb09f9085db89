/**
 * An event emitter whose listeners cannot hurt the engine: each is wrapped in a try/catch when
 * it is registered, so a listener that throws never crashes the process and never changes
 * what is sent. A failure is reported once: as a `listenerError` event if anyone listens to
 * it, else as one process warning per event name (naming the error's type, never its message,
 * which is the studio's and may carry anything).
 */
import { EventEmitter } from 'eventemitter3';
import type { SyncEvents } from './events.js';

type Name = EventEmitter.EventNames<SyncEvents>;
type Listener<T extends Name> = EventEmitter.EventListener<SyncEvents, T>;
type Wrapped = (...args: unknown[]) => void;

/** EventEmitter of {@link SyncEvents} with guarded listeners. */
export class SafeEmitter extends EventEmitter<SyncEvents> {
  /** The wrapper of each registered listener, by event, so that `off` finds it. */
  readonly #wrappers = new Map<Name, WeakMap<object, Wrapped>>();
  readonly #warned = new Set<string>();

  override on<T extends Name>(event: T, fn: Listener<T>, context?: unknown): this {
    return super.on(event, this.#wrap(event, fn) as never, context);
  }

  override addListener<T extends Name>(event: T, fn: Listener<T>, context?: unknown): this {
    return this.on(event, fn, context);
  }

  override once<T extends Name>(event: T, fn: Listener<T>, context?: unknown): this {
    return super.once(event, this.#wrap(event, fn) as never, context);
  }

  override off<T extends Name>(event: T, fn?: Listener<T>, context?: unknown, once?: boolean): this {
    const wrapped = fn && this.#wrappers.get(event)?.get(fn);
    return super.off(event, (wrapped ?? fn) as never, context, once);
  }

  override removeListener<T extends Name>(event: T, fn?: Listener<T>, context?: unknown, once?: boolean): this {
    return this.off(event, fn, context, once);
  }

  /** Warns once per `key` (an internal failure the engine survived). */
  protected warnOnce(key: string, message: string, code: string): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    process.emitWarning(message, { code });
  }

  #wrap(event: Name, fn: object): Wrapped {
    let byFn = this.#wrappers.get(event);
    if (!byFn) this.#wrappers.set(event, (byFn = new WeakMap()));
    let wrapped = byFn.get(fn);
    if (!wrapped) {
      const failed = (error: unknown) => this.#listenerFailed(event, error);
      wrapped = function (this: unknown, ...args: unknown[]) {
        try {
          (fn as Wrapped).apply(this, args);
        } catch (error) {
          failed(error);
        }
      };
      byFn.set(fn, wrapped);
    }
    return wrapped;
  }

  #listenerFailed(event: Name, error: unknown): void {
    if (event !== 'listenerError' && this.listenerCount('listenerError') > 0) {
      this.emit('listenerError', { event, error });
      return;
    }
    const name = error instanceof Error ? error.name : typeof error;
    this.warnOnce(event, `a '${event}' listener threw (${name}); mpa-sync went on. Listen to 'listenerError' for details.`, 'MPA_SYNC_LISTENER_ERROR');
  }
}
