/**
 * A fixed-capacity buffer that keeps the most recent items: the emulator's request log, so a
 * soak test or a day-long `npx mpa-sync emulator` holds a bounded number of entries.
 */
export class RingBuffer<T> {
  readonly #capacity: number;
  // Grows up to the capacity, then wraps: a small test never allocates 10,000 slots.
  #items: T[] = [];
  #start = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** How many items are retained. */
  get length(): number {
    return this.#items.length;
  }

  /** Appends an item, dropping the oldest one when full. O(1). */
  push(item: T): void {
    if (this.#capacity === 0) return;
    if (this.#items.length < this.#capacity) {
      this.#items.push(item);
      return;
    }
    this.#items[this.#start] = item;
    this.#start = this.#start + 1 === this.#capacity ? 0 : this.#start + 1;
  }

  /** The retained items, oldest first, as a new array. */
  toArray(): T[] {
    if (this.#start === 0) return this.#items.slice();
    return this.#items.slice(this.#start).concat(this.#items.slice(0, this.#start));
  }

  /** Forgets every item, then keeps the last `capacity` of `items`. */
  replace(items: Iterable<T>): void {
    this.clear();
    for (const item of items) this.push(item);
  }

  /** Forgets every item. */
  clear(): void {
    this.#items = [];
    this.#start = 0;
  }
}
