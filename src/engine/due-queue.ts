/**
 * Deadlines that arrive in the order they fall due (a fixed delay after events that happen in
 * time order: keep-alives, releasing resting players): a FIFO and one timer serve them all,
 * instead of one timer per player.
 */
import type { EngineClock } from './clock.js';

/** A FIFO of values, each handed to `onDue` once its deadline (monotonic ms) has passed. */
export class DueQueue<T> {
  #items: { value: T; due: number }[] = [];
  #head = 0;
  #timer: unknown;
  #armedFor = Number.POSITIVE_INFINITY;
  #stopped = false;

  constructor(
    private readonly clock: EngineClock,
    private readonly onDue: (value: T) => void,
  ) {}

  /** Adds `value`, due at `due`; deadlines must not decrease from one push to the next. */
  push(value: T, due: number): void {
    if (this.#stopped) return;
    this.#items.push({ value, due });
    if (due < this.#armedFor) this.#arm(due);
  }

  /** Entries waiting. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Drops, now, the waiting entries `keep` rejects (stale ones that would be skipped when due). */
  compact(keep: (value: T) => boolean): void {
    this.#items = this.#items.slice(this.#head).filter((item) => keep(item.value));
    this.#head = 0;
  }

  /** Forgets everything and cancels the timer. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#items = [];
    this.#head = 0;
  }

  #arm(due: number): void {
    if (this.#timer !== undefined) this.clock.clearTimeout(this.#timer);
    this.#armedFor = due;
    this.#timer = this.clock.setTimeout(() => this.#fire(), Math.max(1, Math.ceil(due - this.clock.monotonic())));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    const now = this.clock.monotonic();
    const items = this.#items;
    while (this.#head < items.length && items[this.#head]!.due <= now) this.onDue(items[this.#head++]!.value);
    if (this.#head > 1024 && this.#head * 2 > items.length) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
    const next = this.#items[this.#head];
    if (next && !this.#stopped) this.#arm(next.due);
  }
}
