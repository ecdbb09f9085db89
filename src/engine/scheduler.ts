/**
 * Plans every write within the service's per-user budgets and sends it through one p-queue.
 *
 * A write first takes a slot in its user's sliding windows (waiting, on the injectable timers,
 * until one is free and any Retry-After has passed), then runs through the queue, which caps
 * concurrency and, optionally, the global rate. The slot is stamped again when the request
 * actually leaves, so the plan never runs ahead of the service's own count.
 */
import PQueue from 'p-queue';
import { windowsFor, type RateCategory, type RateLimitConfig } from '../rate-limits.js';
import { SlidingWindows, type WindowEntry } from '../sliding-window.js';
import { sleep } from '../sleep.js';

/** Request priorities: lower is more urgent. */
export const PRIORITY = { leave: 0, settings: 1, count: 2 } as const;
export type Priority = (typeof PRIORITY)[keyof typeof PRIORITY];

/** Options of the scheduler, all with defaults in ActivitySync. */
export interface SchedulerOptions {
  /** Per-user write limits to plan for, or false to plan for none. */
  limits: RateLimitConfig | false;
  /** Added to each window, for latency and clock skew between us and the service. */
  marginMs: number;
  /** Requests in flight at once, across all players. */
  concurrency: number;
  /** A global cap: at most `cap` requests in any `intervalMs`. */
  rateCap: { cap: number; intervalMs: number } | undefined;
  /** A player-count refresh waits at least this long after the player's previous write. */
  countRefreshIntervalMs: number;
  now: () => number;
}

/** A request's place in its user's budget, from {@link Scheduler.acquire}. */
export interface Lease {
  xuid: string;
  category: RateCategory;
  priority: Priority;
  entry: WindowEntry | undefined;
}

export class Scheduler {
  readonly #windows = new Map<RateCategory, SlidingWindows>();
  readonly #queue: PQueue;
  readonly #blocked = new Map<string, number>();
  #blockedAll = 0;

  constructor(private readonly options: SchedulerOptions) {
    for (const category of ['write', 'read', 'invite', 'recentPlayers'] as const) {
      if (options.limits) this.#windows.set(category, new SlidingWindows(windowsFor(options.limits, category), options.marginMs));
    }
    this.#queue = new PQueue({
      concurrency: options.concurrency,
      ...(options.rateCap && { intervalCap: options.rateCap.cap, interval: options.rateCap.intervalMs, strict: true }),
    });
  }

  /**
   * Resolves when `xuid` may write at `priority`: its windows have room (count-only refreshes
   * leave one write in reserve for a leave) and no Retry-After is pending for it or for all.
   */
  async acquire(xuid: string, priority: Priority, signal: AbortSignal, category: RateCategory = 'write'): Promise<Lease> {
    for (;;) {
      const now = this.options.now();
      const at = this.availableAt(xuid, priority, now, category);
      if (at <= now) break;
      await sleep(at - now, signal);
    }
    signal.throwIfAborted();
    return { xuid, category, priority, entry: this.#windows.get(category)?.record(xuid, this.options.now()) };
  }

  /** When `xuid` could next send a request of `category` at `priority`. */
  availableAt(xuid: string, priority: Priority, now = this.options.now(), category: RateCategory = 'write'): number {
    const countOnly = category === 'write' && priority === PRIORITY.count;
    const windows = this.#windows.get(category);
    const budget = windows?.availableAt(xuid, now, countOnly ? 1 : 0) ?? now;
    // Count refreshes are paced: a count a few seconds old matters less to friends than the
    // requests (and budget) it would cost to chase every arrival.
    const paced = countOnly ? (windows?.lastAt(xuid) ?? -Infinity) + this.options.countRefreshIntervalMs : 0;
    return Math.max(budget, paced, this.#blocked.get(blockKey(category, xuid)) ?? 0, this.#blockedAll);
  }

  /** Runs `send` through the queue under `lease`. An aborted lease gives its slot back. */
  async run<T>(lease: Lease, signal: AbortSignal, send: () => Promise<T>): Promise<T> {
    let sent = false;
    try {
      return await this.#queue.add(
        () => {
          sent = true;
          if (lease.entry) this.#windows.get(lease.category)?.touch(lease.xuid, lease.entry, this.options.now());
          return send();
        },
        { priority: PRIORITY.count - lease.priority, signal },
      );
    } finally {
      if (!sent && lease.entry) this.#windows.get(lease.category)?.remove(lease.xuid, lease.entry);
    }
  }

  /** Holds `xuid`'s requests of `category` (or every request, with `undefined`) until `until`. */
  block(xuid: string | undefined, until: number, category: RateCategory = 'write'): void {
    if (xuid === undefined) this.#blockedAll = Math.max(this.#blockedAll, until);
    else this.#blocked.set(blockKey(category, xuid), Math.max(this.#blocked.get(blockKey(category, xuid)) ?? 0, until));
  }

  /** Forgets a player's Retry-After once it has passed (keeps memory flat). */
  forget(xuid: string, category: RateCategory = 'write'): void {
    const until = this.#blocked.get(blockKey(category, xuid));
    if (until !== undefined && until <= this.options.now()) this.#blocked.delete(blockKey(category, xuid));
  }
}

function blockKey(category: RateCategory, xuid: string): string {
  return `${category}/${xuid}`;
}
