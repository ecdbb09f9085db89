/**
 * Sliding-window request logs, one per key. The emulator uses them to enforce the service's
 * fine-grained rate limits; the session engine uses the same arithmetic to plan within them.
 */

/** One window: at most `limit` requests in any `windowMs`. */
export interface RateWindow {
  windowMs: number;
  limit: number;
  /** Whether refused (throttled) requests count in this window too. Default true. */
  countsThrottled?: boolean;
}

/** A recorded request. `t` may move later (see {@link SlidingWindows.touch}). */
export interface WindowEntry {
  t: number;
  throttled: boolean;
}

/** Result of {@link SlidingWindows.check} when a window is full. */
export interface WindowViolation {
  window: RateWindow;
  current: number;
  /** When one more request would fit in every window. */
  freeAt: number;
}

/** How full one window is, from {@link SlidingWindows.usage}. */
export interface WindowUsage {
  windowMs: number;
  limit: number;
  /** Requests counted in the window now. */
  used: number;
}

export class SlidingWindows {
  readonly #log = new Map<string, WindowEntry[]>();
  readonly #longest: number;

  constructor(
    readonly windows: readonly RateWindow[],
    /** Added to every entry's expiry, to absorb clock skew and latency between planner and service. */
    private readonly marginMs = 0,
  ) {
    this.#longest = Math.max(0, ...windows.map((w) => w.windowMs)) + marginMs;
  }

  /** Records a request at time `t` and returns its entry. */
  record(key: string, t: number, throttled = false): WindowEntry {
    const entries = this.#prune(key, t);
    const entry = { t, throttled };
    insertSorted(entries, entry);
    this.#log.set(key, entries);
    return entry;
  }

  /** Moves an entry to a later time (a reserved slot whose request actually went out later). */
  touch(key: string, entry: WindowEntry, t: number): void {
    const entries = this.#log.get(key);
    if (!entries) return;
    const at = entries.indexOf(entry);
    if (at < 0) return;
    entries.splice(at, 1);
    entry.t = Math.max(entry.t, t);
    insertSorted(entries, entry);
  }

  /** Forgets an entry (a reservation that was never sent). */
  remove(key: string, entry: WindowEntry): void {
    const entries = this.#log.get(key);
    const at = entries?.indexOf(entry) ?? -1;
    if (entries && at >= 0) entries.splice(at, 1);
    if (entries && entries.length === 0) this.#log.delete(key);
  }

  /**
   * The earliest time, not before `now`, at which `1 + reserve` more requests fit in every
   * window for `key`. Returns `now` when they fit already.
   */
  availableAt(key: string, now: number, reserve = 0): number {
    return this.check(key, now, reserve)?.freeAt ?? now;
  }

  /** The fullest window that has no room for `1 + reserve` more requests now, if any. */
  check(key: string, now: number, reserve = 0): WindowViolation | undefined {
    const entries = this.#log.get(key);
    if (!entries) return undefined;
    let worst: WindowViolation | undefined;
    for (const window of this.windows) {
      const room = Math.max(0, window.limit - 1 - Math.min(reserve, window.limit - 1));
      const since = now - window.windowMs - this.marginMs;
      const live = entries.filter((e) => e.t > since && (window.countsThrottled !== false || !e.throttled));
      if (live.length <= room) continue;
      const expiring = live[live.length - room - 1]!;
      const freeAt = expiring.t + window.windowMs + this.marginMs;
      if (!worst || freeAt > worst.freeAt) worst = { window, current: live.length, freeAt };
    }
    return worst;
  }

  /** Time of the latest entry for `key`, if any is still kept. */
  lastAt(key: string): number | undefined {
    const entries = this.#log.get(key);
    return entries?.[entries.length - 1]?.t;
  }

  clear(): void {
    this.#log.clear();
  }

  /** Keys that still have entries (read-only view for inspection). */
  keys(): string[] {
    return [...this.#log.keys()];
  }

  /** How full each window is for `key` at `now`, without changing anything (for inspection). */
  usage(key: string, now: number): WindowUsage[] {
    const entries = this.#log.get(key) ?? [];
    return this.windows.map((window) => {
      const since = now - window.windowMs - this.marginMs;
      const used = entries.filter((e) => e.t > since && (window.countsThrottled !== false || !e.throttled)).length;
      return { windowMs: window.windowMs, limit: window.limit, used };
    });
  }

  #prune(key: string, now: number): WindowEntry[] {
    const entries = this.#log.get(key) ?? [];
    const since = now - this.#longest;
    let drop = 0;
    while (drop < entries.length && entries[drop]!.t <= since) drop++;
    if (drop) entries.splice(0, drop);
    return entries;
  }
}

function insertSorted(entries: WindowEntry[], entry: WindowEntry): void {
  let i = entries.length;
  while (i > 0 && entries[i - 1]!.t > entry.t) i--;
  entries.splice(i, 0, entry);
}
