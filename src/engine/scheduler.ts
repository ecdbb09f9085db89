/**
 * Plans every request within the service's per-user budgets and runs it through one p-queue.
 *
 * `acquire` answers at once: a lease (a slot taken in the user's sliding windows) or how long
 * to wait. The chart does the waiting, on the engine's clock. The queue caps concurrency and
 * orders by priority; the slot is stamped again when the request actually leaves, so the plan
 * never runs ahead of the service's own count. p-queue's own interval limiter is not used: it
 * runs on the global timers, and the optional global rate cap is one more sliding window here.
 */
import PQueue from 'p-queue';
import { windowsFor, type RateCategory, type RateLimitConfig } from '../rate-limits.js';
import { SlidingWindows, type WindowEntry } from '../sliding-window.js';
import { PRIORITY, type Priority } from './desired.js';

/** Options of the scheduler, all with defaults in ActivitySync. */
export interface SchedulerOptions {
  /** Per-user limits to plan for, or false to plan for none. */
  limits: RateLimitConfig | false;
  /** Added to each window, for latency and clock skew between us and the service. */
  marginMs: number;
  /** Requests in flight at once, across all players. */
  concurrency: number;
  /** A global cap: at most `cap` requests in any `intervalMs`. */
  rateCap: { cap: number; intervalMs: number } | undefined;
  /** Monotonic clock. */
  now: () => number;
}

/** A request's place in its user's budget, from {@link Scheduler.acquire}. */
export interface Lease {
  key: string;
  category: RateCategory;
  priority: Priority;
  entry: WindowEntry | undefined;
  capEntry: WindowEntry | undefined;
}

const CAP_KEY = '*';

/** Budgets, Retry-After holds and the request queue of one engine. */
export class Scheduler {
  readonly #windows = new Map<RateCategory, SlidingWindows>();
  readonly #cap: SlidingWindows | undefined;
  readonly #queue: PQueue;
  readonly #blocked = new Map<string, number>();
  #blockedAll = 0;

  constructor(private readonly options: SchedulerOptions) {
    for (const category of ['write', 'read', 'invite', 'recentPlayers'] as const) {
      if (options.limits) this.#windows.set(category, new SlidingWindows(windowsFor(options.limits, category), options.marginMs));
    }
    if (options.rateCap) this.#cap = new SlidingWindows([{ windowMs: options.rateCap.intervalMs, limit: options.rateCap.cap }]);
    this.#queue = new PQueue({ concurrency: options.concurrency });
  }

  /**
   * A lease if `key` may send a request of `category` at `priority` now, else the wait in ms.
   * Every write but a leave keeps the last write of each window in reserve for a leave, so a
   * player who leaves is never held back by their own earlier writes; a Retry-After for the
   * key or for everyone holds every priority.
   */
  acquire(key: string, priority: Priority, category: RateCategory = 'write'): Lease | number {
    const now = this.options.now();
    const at = this.availableAt(key, priority, now, category);
    if (at > now) return Math.ceil(at - now);
    return {
      key,
      category,
      priority,
      entry: this.#windows.get(category)?.record(key, now),
      capEntry: this.#cap?.record(CAP_KEY, now),
    };
  }

  /** When `key` could next send a request of `category` at `priority`. */
  availableAt(key: string, priority: Priority, now = this.options.now(), category: RateCategory = 'write'): number {
    const reserve = category === 'write' && priority !== PRIORITY.leave ? 1 : 0;
    const budget = this.#windows.get(category)?.availableAt(key, now, reserve) ?? now;
    const cap = this.#cap?.availableAt(CAP_KEY, now) ?? now;
    const held = this.#blocked.get(blockKey(category, key));
    if (held !== undefined && held <= now) this.#blocked.delete(blockKey(category, key));
    return Math.max(budget, cap, held ?? 0, this.#blockedAll);
  }

  /**
   * Runs `send` through the queue under `lease`. `send` returns false when, at the moment it
   * could leave, nothing needed sending any more: the slot is given back.
   */
  run(lease: Lease, send: () => Promise<boolean> | boolean): Promise<void> {
    return this.#queue.add(
      async () => {
        // p-queue starts a job synchronously inside add(): yield once, so that changes made in
        // the same tick (a join then a leave, a burst of arrivals) are what leaves.
        await undefined;
        const now = this.options.now();
        if (lease.entry) this.#windows.get(lease.category)?.touch(lease.key, lease.entry, now);
        if (lease.capEntry) this.#cap?.touch(CAP_KEY, lease.capEntry, now);
        const sent = await send();
        if (!sent) this.release(lease);
      },
      { priority: PRIORITY.count - lease.priority },
    );
  }

  /**
   * How long a Retry-After or a shared wait still holds `key`'s requests of `category` (0: not
   * held). A request that waited in the queue while a hold began asks this before it leaves.
   */
  heldFor(key: string, category: RateCategory = 'write', now = this.options.now()): number {
    const until = Math.max(this.#blocked.get(blockKey(category, key)) ?? 0, this.#blockedAll);
    return until > now ? Math.ceil(until - now) : 0;
  }

  /** Gives a slot back (a request that never left). */
  release(lease: Lease): void {
    if (lease.entry) this.#windows.get(lease.category)?.remove(lease.key, lease.entry);
    if (lease.capEntry) this.#cap?.remove(CAP_KEY, lease.capEntry);
  }

  /** Holds `key`'s requests of `category` (or every request, with `undefined`) until `until`. */
  block(key: string | undefined, until: number, category: RateCategory = 'write'): void {
    if (key === undefined) this.#blockedAll = Math.max(this.#blockedAll, until);
    else this.#blocked.set(blockKey(category, key), Math.max(this.#blocked.get(blockKey(category, key)) ?? 0, until));
  }

  /** Forgets a key's Retry-After once it has passed (keeps memory flat). */
  forget(key: string, category: RateCategory = 'write'): void {
    const until = this.#blocked.get(blockKey(category, key));
    if (until !== undefined && until <= this.options.now()) this.#blocked.delete(blockKey(category, key));
  }

  /** How long after a key's last request its budget log may still be kept. */
  get retentionMs(): number {
    let ms = 0;
    for (const w of this.#windows.values()) ms = Math.max(ms, w.retentionMs);
    return Math.max(ms, this.#cap?.retentionMs ?? 0);
  }

  /** Forgets the budget logs whose windows have all passed (the next request would too). */
  expire(): void {
    const now = this.options.now();
    for (const w of this.#windows.values()) w.expire(now);
    this.#cap?.expire(now);
  }

  /** Forgets every budget log and hold (the engine closed). */
  clear(): void {
    for (const w of this.#windows.values()) w.clear();
    this.#cap?.clear();
    this.#blocked.clear();
    this.#queue.clear();
  }

  /** Keys with budget logs or holds (for memory checks). */
  get retained(): number {
    let n = this.#blocked.size;
    for (const w of this.#windows.values()) n += w.size;
    return n;
  }

  /** Requests waiting in the queue or running. */
  get queued(): number {
    return this.#queue.size + this.#queue.pending;
  }
}

function blockKey(category: RateCategory, key: string): string {
  return `${category}/${key}`;
}
