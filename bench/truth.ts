/**
 * The yardsticks of the wire benchmark, as pure functions of data: what each player's activity
 * should be over time (the scenario's truth), what the service held over time (the emulator's
 * log replayed), how long friends saw a wrong answer (staleness episodes), and the fewest
 * writes any engine could have sent for the same pacing (the offline optimum).
 *
 * No clock, no I/O: the benchmark feeds it the scenario and the log, test/bench-truth.test.ts
 * feeds it hand-made timelines. The content and joinability rules are written here again on
 * purpose rather than imported from src/engine/desired.ts: a yardstick that shares the code it
 * measures would agree with that code's mistakes.
 */
import type { BenchEvent, MatchSettings } from './scenarios.js';

/** The content of an activity, every field but the sequence number. */
export interface ActivityContent {
  connectionString: string;
  joinRestriction: string;
  maxPlayers?: number | undefined;
  currentPlayers?: number | undefined;
  groupId?: string | undefined;
  platform?: string | undefined;
}

/** One change of a player's activity: `null` means no activity. */
export interface Change {
  /** Milliseconds since the scenario started. */
  t: number;
  state: ActivityContent | null;
}

/** Per player, the changes in time order, at most one per millisecond, each one a real change. */
export type Timeline = Map<string, Change[]>;

/** A line of the emulator's request log, as much of it as the replay needs. */
export interface LogLine {
  time: number;
  method: string;
  xuid?: string | undefined;
  status: number;
  body: unknown;
}

/** Which match each player is in, and what that makes their activity. */
export class MatchBook {
  readonly #settings = new Map<string, MatchSettings>();
  readonly #members = new Map<string, Set<string>>();
  readonly #matchOf = new Map<string, string>();

  /** Applies a matchmaker event; returns the players whose desired activity may have changed. */
  apply(e: BenchEvent): string[] {
    switch (e.kind) {
      case 'alloc':
        this.#settings.set(e.match, { ...e.settings });
        this.#members.set(e.match, new Set());
        return [];
      case 'join': {
        const from = this.#matchOf.get(e.xuid);
        if (from === e.match) return [];
        const moved = from === undefined ? [] : this.#remove(from, e.xuid);
        this.#members.get(e.match)!.add(e.xuid);
        this.#matchOf.set(e.xuid, e.match);
        return [...moved, ...this.#members.get(e.match)!];
      }
      case 'leave':
        return this.#matchOf.get(e.xuid) === e.match ? [e.xuid, ...this.#remove(e.match, e.xuid)] : [];
      case 'settings':
        Object.assign(this.#settings.get(e.match)!, e.update);
        return [...this.#members.get(e.match)!];
      case 'end': {
        const gone = [...(this.#members.get(e.match) ?? [])];
        for (const xuid of gone) this.#matchOf.delete(xuid);
        this.#members.delete(e.match);
        this.#settings.delete(e.match);
        return gone;
      }
    }
  }

  /** The members of a match (empty when it is not allocated). */
  members(match: string): ReadonlySet<string> {
    return this.#members.get(match) ?? new Set();
  }

  /** What the player's activity should be now (`null`: in no match, no activity). */
  activityOf(xuid: string): ActivityContent | null {
    const match = this.#matchOf.get(xuid);
    if (match === undefined) return null;
    const s = this.#settings.get(match)!;
    return { connectionString: s.connectionString, joinRestriction: s.joinRestriction, maxPlayers: s.maxPlayers, currentPlayers: this.#members.get(match)!.size, groupId: match };
  }

  /** Returns the other members whose count changed. */
  #remove(match: string, xuid: string): string[] {
    const set = this.#members.get(match)!;
    set.delete(xuid);
    this.#matchOf.delete(xuid);
    return [...set];
  }
}

/** Appends a change, keeping one entry per millisecond (the last) and only real changes. */
function push(timeline: Timeline, xuid: string, t: number, state: ActivityContent | null): void {
  let changes = timeline.get(xuid);
  if (!changes) timeline.set(xuid, (changes = []));
  const last = changes[changes.length - 1];
  if (last && last.t === t) changes.pop();
  const before = changes[changes.length - 1]?.state ?? null;
  if (!sameContent(before, state)) changes.push({ t, state });
}

/** Every player's desired activity over time, from a scenario's events (`t` in ms). */
export function truthTimeline(events: readonly BenchEvent[]): Timeline {
  const book = new MatchBook();
  const timeline: Timeline = new Map();
  for (const e of events) for (const xuid of book.apply(e)) push(timeline, xuid, e.t, book.activityOf(xuid));
  return timeline;
}

/**
 * What the service held over time: every accepted (2xx) PUT and DELETE of the log replayed in
 * order, times made relative to `start`. Refused requests (429, stale sequence) change nothing.
 */
export function publishedTimeline(log: readonly LogLine[], start: number): Timeline {
  const timeline: Timeline = new Map();
  for (const line of log) {
    if (line.xuid === undefined || line.status < 200 || line.status >= 300) continue;
    if (line.method === 'DELETE') push(timeline, line.xuid, line.time - start, null);
    else if (line.method === 'PUT') push(timeline, line.xuid, line.time - start, activityContent(line.body));
  }
  return timeline;
}

/** The content of a PUT body or a stored activity (numbers may come as strings). */
export function activityContent(body: unknown): ActivityContent {
  const b = body as Record<string, unknown>;
  const num = (v: unknown) => (v === undefined || v === null ? undefined : Number(v));
  const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
  return {
    connectionString: String(b.connectionString),
    joinRestriction: String(b.joinRestriction),
    maxPlayers: num(b.maxPlayers),
    currentPlayers: num(b.currentPlayers),
    groupId: str(b.groupId),
    platform: str(b.platform),
  };
}

/** Equal in every field but the sequence number (both absent counts as equal). */
export function sameContent(a: ActivityContent | null, b: ActivityContent | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.connectionString === b.connectionString &&
    a.joinRestriction === b.joinRestriction &&
    a.maxPlayers === b.maxPlayers &&
    a.currentPlayers === b.currentPlayers &&
    a.groupId === b.groupId &&
    a.platform === b.platform
  );
}

/**
 * Whether a friend gets the same answer to "can I join?" from both: activity present or not,
 * connection string, join restriction, max players, platform, and full (current >= max) or not.
 */
export function sameJoinability(a: ActivityContent | null, b: ActivityContent | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.connectionString === b.connectionString &&
    a.joinRestriction === b.joinRestriction &&
    a.maxPlayers === b.maxPlayers &&
    a.platform === b.platform &&
    isFull(a) === isFull(b)
  );
}

function isFull(a: ActivityContent): boolean {
  return a.maxPlayers !== undefined && a.currentPlayers !== undefined && a.currentPlayers >= a.maxPlayers;
}

/** Whether a friend sees a wrong player count: both present and the counts differ. */
export function countWrong(truth: ActivityContent | null, published: ActivityContent | null): boolean {
  return truth !== null && published !== null && truth.currentPlayers !== published.currentPlayers;
}

/** Durations (ms) of every episode of a wrong answer, one entry per episode. */
export interface Staleness {
  /** Episodes where the published activity answered "can I join?" wrongly. */
  joinability: number[];
  /** Episodes where the published player count was wrong. */
  count: number[];
  /** Episodes still open at `endT` (counted with their duration so far). */
  openAtEnd: number;
}

/**
 * Replays truth and published timelines side by side until `endT` and measures every episode
 * of a wrong answer. An episode starts when the answer becomes wrong (a truth change the
 * service does not show yet, or a write that shows something untrue) and ends when it is right
 * again. A change published in the same millisecond counts as an episode of 0 ms, so the
 * distribution is over every change a friend should have seen, not only the late ones.
 */
export function staleness(truth: Timeline, published: Timeline, endT: number): Staleness {
  const result: Staleness = { joinability: [], count: [], openAtEnd: 0 };
  for (const xuid of new Set([...truth.keys(), ...published.keys()])) {
    const want = truth.get(xuid) ?? [];
    const have = published.get(xuid) ?? [];
    let w = 0;
    let h = 0;
    let wantState: ActivityContent | null = null;
    let haveState: ActivityContent | null = null;
    const episodes = [
      { wrong: () => !sameJoinability(wantState, haveState), into: result.joinability, since: null as number | null },
      { wrong: () => countWrong(wantState, haveState), into: result.count, since: null as number | null },
    ];
    // After each half-step (truth first, then the service, at the same millisecond), open or
    // close episodes: a change fixed within its own millisecond still counts, as 0 ms.
    const check = (t: number) => {
      for (const e of episodes) {
        const wrong = e.wrong();
        if (wrong && e.since === null) e.since = t;
        else if (!wrong && e.since !== null) {
          e.into.push(t - e.since);
          e.since = null;
        }
      }
    };
    while ((w < want.length && want[w]!.t <= endT) || (h < have.length && have[h]!.t <= endT)) {
      const t = Math.min(want[w]?.t ?? Infinity, have[h]?.t ?? Infinity);
      if (want[w]?.t === t) {
        wantState = want[w++]!.state;
        check(t);
      }
      if (have[h]?.t === t) {
        haveState = have[h++]!.state;
        check(t);
      }
    }
    for (const e of episodes) {
      if (e.since === null) continue;
      e.into.push(endT - e.since);
      result.openAtEnd++;
    }
  }
  return result;
}

/** How long each leave took to reach the service. */
export interface LeaveDelays {
  /** Per leave published before the truth changed again: ms from the leave until the service held no activity. */
  published: number[];
  /** Leaves not published by `endT` with the player still gone (each also counted in `published` with its duration so far). */
  open: number;
  /** Leaves the player undid (joined again) before the service showed them: no delay to measure. */
  overtaken: number;
}

/**
 * For every leave (the truth going from an activity to none), how long until the service held
 * no activity for that player either (an accepted DELETE; 0 ms when it already held none). A
 * leave the player undoes before it is published is counted apart as overtaken: what friends
 * saw then is the staleness of the next change. A leave still unpublished at `endT` counts with
 * its duration so far.
 */
export function leaveDelays(truth: Timeline, published: Timeline, endT: number): LeaveDelays {
  const result: LeaveDelays = { published: [], open: 0, overtaken: 0 };
  for (const [xuid, changes] of truth) {
    const have = published.get(xuid) ?? [];
    for (let i = 1; i < changes.length; i++) {
      const { t, state } = changes[i]!;
      if (state !== null || changes[i - 1]!.state === null || t > endT) continue;
      const until = Math.min(changes[i + 1]?.t ?? Infinity, endT);
      // What the service held at the leave (the last published change at or before it), then
      // the first later change to none before the truth moved on.
      let h = 0;
      while (h < have.length && have[h]!.t <= t) h++;
      let gone: number | null = (have[h - 1]?.state ?? null) === null ? t : null;
      for (; gone === null && h < have.length && have[h]!.t <= until; h++) if (have[h]!.state === null) gone = have[h]!.t;
      if (gone !== null) result.published.push(gone - t);
      else if (until < endT) result.overtaken++;
      else {
        result.published.push(endT - t);
        result.open++;
      }
    }
  }
  return result;
}

/** The fewest writes for the same pacing, and when each is sent. */
export interface Optimum {
  puts: number;
  deletes: number;
  writes: number;
  /** The writes as a published timeline (replayable against the truth with {@link staleness}). */
  schedule: Timeline;
}

/**
 * The offline optimum for a pacing of `countRefreshIntervalMs`: a change of joinability (see
 * {@link sameJoinability}) is written at once; a change of the count alone is written on a
 * greedy deadline schedule, `countRefreshIntervalMs` after the published count first became
 * wrong, carrying the newest state; a state equal to what is published is never written
 * (a count that comes back before its deadline costs nothing). Writing each count as late as
 * its deadline allows, with the newest state, is the classic greedy cover: no schedule that
 * keeps every count at most that old uses fewer writes. The service starts empty; keep-alives
 * are not counted (every scenario is shorter than the keep-alive interval).
 */
export function offlineOptimum(truth: Timeline, countRefreshIntervalMs: number): Optimum {
  const optimum: Optimum = { puts: 0, deletes: 0, writes: 0, schedule: new Map() };
  for (const [xuid, changes] of truth) {
    let published: ActivityContent | null = null;
    let current: ActivityContent | null = null;
    let deadline: number | null = null;
    const write = (t: number) => {
      if (current === null) optimum.deletes++;
      else optimum.puts++;
      optimum.writes++;
      push(optimum.schedule, xuid, t, current);
      published = current;
      deadline = null;
    };
    for (const { t, state } of changes) {
      if (deadline !== null && deadline < t) write(deadline);
      current = state;
      if (!sameJoinability(current, published)) write(t);
      else if (sameContent(current, published)) deadline = null;
      else {
        deadline ??= t + countRefreshIntervalMs;
        if (deadline <= t) write(t);
      }
    }
    if (deadline !== null) write(deadline);
  }
  return optimum;
}

/** The 95th percentile (nearest rank); 0 for no values. */
export function p95(values: readonly number[]): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(sorted.length * 0.95) - 1]!;
}
