/**
 * What the emulated service holds: each title's activities, keyed by xuid, and each user's last
 * accepted sequence number. Both are forgotten `expiryMs` after the user's last accepted write,
 * so that a day-long emulator which sees ever new users stays flat.
 */

/** An activity the emulator holds. */
export interface StoredActivity {
  titleId: number;
  xuid: string;
  connectionString: string;
  joinRestriction: string;
  sequenceNumber: string;
  currentPlayers?: number | undefined;
  maxPlayers?: number | undefined;
  groupId?: string | undefined;
  platform?: string | undefined;
  updatedAt: number;
}

/** One user's last accepted write: what a later write's sequence number must exceed. */
interface LastWrite {
  sequenceNumber: bigint;
  at: number;
}

/** One title's users, each under their canonical xuid. */
interface Title {
  readonly activities: Map<string, StoredActivity>;
  readonly lastWrites: Map<string, LastWrite>;
}

/** Every title's activities and sequence numbers, with expiry. */
export class ActivityStore {
  readonly #expiryMs: number;
  readonly #titles = new Map<number, Title>();
  #nextSweepAt = 0;

  constructor(expiryMs: number) {
    this.#expiryMs = expiryMs;
  }

  /** The user's live activity in the title. */
  get(titleId: number, xuid: string, time: number): StoredActivity | undefined {
    const title = this.#titles.get(titleId);
    return title && this.#live(title, xuid, time);
  }

  /** The last sequence number accepted from the user in the title, while it is remembered. */
  lastSequence(titleId: number, xuid: string, time: number): bigint | undefined {
    const last = this.#titles.get(titleId)?.lastWrites.get(xuid);
    return last && time - last.at < this.#expiryMs ? last.sequenceNumber : undefined;
  }

  /** Records an accepted write: `activity` replaces the user's, or `undefined` deletes it. */
  write(titleId: number, xuid: string, sequenceNumber: bigint, activity: StoredActivity | undefined, time: number): void {
    let title = this.#titles.get(titleId);
    if (!title) this.#titles.set(titleId, (title = { activities: new Map(), lastWrites: new Map() }));
    title.lastWrites.set(xuid, { sequenceNumber, at: time });
    if (activity) title.activities.set(xuid, activity);
    else title.activities.delete(xuid);
  }

  /** Every live activity (copies), title by title. */
  all(time: number): StoredActivity[] {
    const live: StoredActivity[] = [];
    for (const title of this.#titles.values()) {
      for (const xuid of [...title.activities.keys()]) {
        const activity = this.#live(title, xuid, time);
        if (activity) live.push({ ...activity });
      }
    }
    return live;
  }

  /** A user's live activity (a copy) in `titleId`, or in the first title that has one. */
  find(xuid: string, titleId: number | undefined, time: number): StoredActivity | undefined {
    for (const [id, title] of this.#titles) {
      const activity = titleId === undefined || id === titleId ? this.#live(title, xuid, time) : undefined;
      if (activity) return { ...activity };
    }
    return undefined;
  }

  /**
   * Forgets the users whose last write is `expiryMs` old. One pass over every user, so it runs
   * at most once per 1/24 of `expiryMs` (an hour by default): memory holds about a day of users.
   */
  sweep(time: number): void {
    if (time < this.#nextSweepAt) return;
    this.#nextSweepAt = time + Math.max(1000, this.#expiryMs / 24);
    for (const [titleId, title] of this.#titles) {
      for (const [xuid, last] of title.lastWrites) {
        if (time - last.at < this.#expiryMs) continue;
        title.lastWrites.delete(xuid);
        title.activities.delete(xuid);
      }
      if (title.lastWrites.size === 0) this.#titles.delete(titleId);
    }
  }

  /** Forgets everything. */
  clear(): void {
    this.#titles.clear();
  }

  #live(title: Title, xuid: string, time: number): StoredActivity | undefined {
    const activity = title.activities.get(xuid);
    if (activity && time - activity.updatedAt >= this.#expiryMs) {
      title.activities.delete(xuid);
      return undefined;
    }
    return activity;
  }
}
