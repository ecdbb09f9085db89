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

/**
 * Request logs per key, checked against every window. A key whose newest entry has left the
 * longest window is forgotten, so memory follows the recent traffic, not every key ever seen.
 */
export class SlidingWindows {
  readonly #log = new Map<string, WindowEntry[]>();
  readonly #longest: number;
  /** Keys in the order they were last recorded, with that time: the expiry queue. */
  #expiry: { key: string; t: number }[] = [];
  #expiryHead = 0;

  constructor(
    readonly windows: readonly RateWindow[],
    /** Added to every entry's expiry, to absorb clock skew and latency between planner and service. */
    private readonly marginMs = 0,
  ) {
    this.#longest = Math.max(0, ...windows.map((w) => w.windowMs)) + marginMs;
  }

  /** Records a request at time `t` and returns its entry. */
  record(key: string, t: number, throttled = false): WindowEntry {
    this.#expire(t);
    const entries = this.#prune(key, t);
    const entry = { t, throttled };
    insertSorted(entries, entry);
    this.#log.set(key, entries);
    this.#expiry.push({ key, t });
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
    this.#expiry.push({ key, t: entry.t });
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
      // Entries are sorted: count the live ones from the newest, remembering the one that
      // must expire before `1 + reserve` more fit (no array built per check).
      let live = 0;
      let expiring: WindowEntry | undefined;
      for (let i = entries.length - 1; i >= 0; i--) {
        const e = entries[i]!;
        if (e.t <= since) break;
        if (window.countsThrottled === false && e.throttled) continue;
        live++;
        if (live === room + 1) expiring = e;
      }
      if (live <= room || !expiring) continue;
      const freeAt = expiring.t + window.windowMs + this.marginMs;
      if (!worst || freeAt > worst.freeAt) worst = { window, current: live, freeAt };
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
    this.#expiry = [];
    this.#expiryHead = 0;
  }

  /** Keys with a log (for memory checks). */
  get size(): number {
    return this.#log.size;
  }

  /** Forgets, now, the keys whose newest entry has left the longest window (otherwise done by the next {@link record}). */
  expire(now: number): void {
    this.#expire(now);
  }

  /** How long a key is kept after its newest entry: the longest window plus the margin. */
  get retentionMs(): number {
    return this.#longest;
  }

  /** Forgets the keys whose newest entry is older than the longest window. Amortised O(1). */
  #expire(now: number): void {
    const since = now - this.#longest;
    const queue = this.#expiry;
    while (this.#expiryHead < queue.length && queue[this.#expiryHead]!.t <= since) {
      const { key } = queue[this.#expiryHead++]!;
      const entries = this.#log.get(key);
      const newest = entries?.[entries.length - 1];
      if (entries && (!newest || newest.t <= since)) this.#log.delete(key);
    }
    if (this.#expiryHead > 1024 && this.#expiryHead * 2 > queue.length) {
      this.#expiry = queue.slice(this.#expiryHead);
      this.#expiryHead = 0;
    }
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
