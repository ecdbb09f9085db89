/**
 * The emulator's request log: the most recent requests as plain entries, and counters of every
 * request since the start. The entries are bounded (a soak or a day-long emulator keeps only
 * the last `logSize`); the counters count everything, whatever the bound.
 */
import type { FaultKind } from './faults.js';
import { RingBuffer } from './ring-buffer.js';

/** One logged request. */
export interface LoggedRequest {
  time: number;
  method: string;
  path: string;
  /** The user the request was about (path xuid, invite sender), if any. */
  xuid?: string | undefined;
  status: number;
  /** The body as JSON, or as the text it was when it is not JSON; `undefined` without one. */
  body: unknown;
  fault?: FaultKind | undefined;
  /** Set when the request was refused by a rate limit. */
  throttled?: boolean;
  /** The Retry-After the answer carried, in seconds, if any. */
  retryAfterSeconds?: number | undefined;
}

/** Counters since start or the last reset. */
export interface EmulatorCounters {
  requests: number;
  byStatus: Record<string, number>;
  byMethod: Record<string, number>;
  throttled: number;
  faults: number;
  /** The most requests ever in flight at once for one user. */
  maxConcurrentPerUser: number;
}

/** The last `capacity` requests, oldest first, and the counters of all of them. */
export class RequestLog {
  readonly #entries: RingBuffer<LoggedRequest>;
  counters: EmulatorCounters = emptyCounters();

  constructor(capacity: number) {
    this.#entries = new RingBuffer(capacity);
  }

  /** Logs and counts a request. */
  add(entry: LoggedRequest): void {
    this.#entries.push(entry);
    const counters = this.counters;
    counters.requests++;
    counters.byStatus[entry.status] = (counters.byStatus[entry.status] ?? 0) + 1;
    counters.byMethod[entry.method] = (counters.byMethod[entry.method] ?? 0) + 1;
    if (entry.fault) counters.faults++;
    if (entry.throttled) counters.throttled++;
  }

  /** The retained requests, oldest first, as a new array. */
  entries(): LoggedRequest[] {
    return this.#entries.toArray();
  }

  /** Keeps the last `capacity` of `entries` instead of what is retained; the counters go on. */
  replace(entries: Iterable<LoggedRequest>): void {
    this.#entries.replace(entries);
  }

  /** Forgets every request and zeroes the counters. */
  clear(): void {
    this.#entries.clear();
    this.counters = emptyCounters();
  }
}

function emptyCounters(): EmulatorCounters {
  return { requests: 0, byStatus: {}, byMethod: {}, throttled: 0, faults: 0, maxConcurrentPerUser: 0 };
}
