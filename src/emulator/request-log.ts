/**
 * The emulator's request log: the most recent requests, kept so that logging one allocates
 * nothing on the heap. Numbers go in columns; the path and the body are copied as UTF-8 into
 * one byte ring (a Buffer, outside the garbage-collected heap). Why: a retained entry outlives
 * many young-generation collections, so as objects (the entry, its parsed body, every string in
 * it) each was copied and promoted, and later swept: measured, about 4 µs of server CPU per
 * PUT, a quarter of the whole answer; with the path and body kept as strings, still 2 µs.
 * Entries are built when the log is read, once each: a reader sees the same objects every time.
 * (A string is stored as UTF-8: a lone surrogate, which no HTTP request can carry, would read
 * back as U+FFFD.)
 */
import type { FaultKind, LoggedRequest } from './core.js';

/** What only a few requests have: an injected fault, a throttle, a Retry-After, an explicit subject. */
export interface LogExtra {
  fault?: FaultKind | undefined;
  throttled?: boolean;
  retryAfterSeconds?: number | undefined;
  /** The subject when the path does not say it (an invite's sender), or `null` for none. */
  xuid?: string | null | undefined;
}

/** The subject of a request, from its method and path: how the log fills `xuid` when read. */
export type SubjectOfPath = (method: string, path: string) => string | undefined;

/** A bounded log of requests, oldest first, that builds {@link LoggedRequest}s when read. */
export class RequestLog {
  readonly #capacity: number;
  readonly #subjectOf: SubjectOfPath;
  // Columns grow up to the capacity, then wrap: a small test never allocates 10,000 slots.
  #time: number[] = [];
  #status: number[] = [];
  #method: string[] = [];
  /** Where the entry's path, then its body, start in the byte ring. */
  #at: number[] = [];
  /** The path's length in bytes. */
  #pathBytes: number[] = [];
  /** The body's length in bytes; -1: no body. */
  #bodyBytes: number[] = [];
  #bytes: Buffer = Buffer.allocUnsafe(0);
  /** Where the next entry's bytes go in the ring. */
  #head = 0;
  #extra: (LogExtra | undefined)[] = [];
  /** Entries already built by a read (or given by `replace`), reused by the next reads. */
  #built: (LoggedRequest | undefined)[] = [];
  #start = 0;

  readonly #minRingBytes: number;

  /** `minRingBytes`: the byte ring's first size (tests make it tiny, so that it wraps and grows often). */
  constructor(capacity: number, subjectOf: SubjectOfPath, minRingBytes = 64 * 1024) {
    this.#capacity = capacity;
    this.#subjectOf = subjectOf;
    this.#minRingBytes = minRingBytes;
  }

  /** How many requests are retained. */
  get length(): number {
    return this.#time.length;
  }

  /**
   * Logs a request, dropping the oldest one when full. O(1) amortized, no heap allocation once
   * warm. `bodyBytes`, when given, are the bytes `body` was decoded from: copied as they are,
   * which is cheaper than encoding `body` again.
   */
  add(time: number, method: string, path: string, body: string | undefined, status: number, extra: LogExtra | undefined, bodyBytes?: Uint8Array): void {
    if (this.#capacity === 0) return;
    let slot: number;
    if (this.#time.length < this.#capacity) {
      slot = this.#time.length;
      this.#time.push(time);
      this.#status.push(status);
      this.#method.push(method);
      this.#at.push(0);
      this.#pathBytes.push(0);
      this.#bodyBytes.push(-1);
      this.#extra.push(extra);
      this.#built.push(undefined);
    } else {
      slot = this.#start;
      this.#start = slot + 1 === this.#capacity ? 0 : slot + 1;
      this.#time[slot] = time;
      this.#status[slot] = status;
      this.#method[slot] = method;
      this.#extra[slot] = extra;
      this.#built[slot] = undefined;
      this.#bodyBytes[slot] = -1; // the slot's old bytes are free from here on
    }
    // At most 3 bytes of UTF-8 per UTF-16 code unit.
    const bytes = body === undefined ? undefined : bodyBytes;
    const at = this.#reserve(3 * path.length + (bytes ? bytes.length : 3 * (body?.length ?? 0)), slot);
    const pathBytes = this.#bytes.write(path, at, 'utf8');
    let size = -1;
    if (bytes) {
      this.#bytes.set(bytes, at + pathBytes);
      size = bytes.length;
    } else if (body !== undefined) {
      size = this.#bytes.write(body, at + pathBytes, 'utf8');
    }
    this.#at[slot] = at;
    this.#pathBytes[slot] = pathBytes;
    this.#bodyBytes[slot] = size;
    this.#head = at + pathBytes + Math.max(0, size);
  }

  /**
   * Where `bytes` bytes can be written for the entry in `slot` without touching a retained
   * entry's bytes: at the head, or back at the start of the ring when the end is too close.
   * The ring grows (its entries compacted, in order) when neither fits.
   */
  #reserve(bytes: number, slot: number): number {
    if (this.#time.length === 1) {
      // Nothing else retained: the whole ring is free.
      if (bytes <= this.#bytes.length) return 0;
    } else {
      // Bytes are written in log order, so the live ones run from the oldest entry's (the
      // tail) to the head, wrapping at most once. Strict comparisons keep head and tail apart.
      const tail = this.#at[this.#start]!;
      if (this.#head >= tail) {
        if (this.#head + bytes <= this.#bytes.length) return this.#head;
        if (bytes < tail) return 0;
      } else if (this.#head + bytes < tail) {
        return this.#head;
      }
    }
    return this.#grow(bytes, slot);
  }

  /** A ring big enough for the retained entries and `bytes` more; returns where those go. */
  #grow(bytes: number, slot: number): number {
    const old = this.#bytes;
    let used = 0;
    const size = this.#time.length;
    for (let i = 0; i < size; i++) if (i !== slot) used += this.#pathBytes[i]! + Math.max(0, this.#bodyBytes[i]!);
    const next = Buffer.allocUnsafe(Math.max(this.#minRingBytes, 2 * (used + bytes)));
    let at = 0;
    // Oldest first, so that the ring's order stays the log's order.
    for (let i = 0; i < size; i++) {
      const s = (this.#start + i) % size;
      if (s === slot) continue;
      const length = this.#pathBytes[s]! + Math.max(0, this.#bodyBytes[s]!);
      old.copy(next, at, this.#at[s]!, this.#at[s]! + length);
      this.#at[s] = at;
      at += length;
    }
    this.#bytes = next;
    this.#head = at;
    return at;
  }

  /** The retained requests, oldest first, as a new array (of the same entries at every read). */
  toArray(): LoggedRequest[] {
    const size = this.#time.length;
    const entries: LoggedRequest[] = new Array(size);
    for (let i = 0; i < size; i++) {
      const slot = (this.#start + i) % size;
      entries[i] = this.#built[slot] ??= this.#build(slot);
    }
    return entries;
  }

  /** Forgets every request, then keeps the last `capacity` of `entries` (as given). */
  replace(entries: Iterable<LoggedRequest>): void {
    this.clear();
    for (const entry of entries) {
      this.add(entry.time, entry.method, entry.path, undefined, entry.status, undefined);
      this.#built[(this.#start + this.#time.length - 1) % this.#time.length] = entry;
    }
  }

  /** Forgets every request. */
  clear(): void {
    this.#time = [];
    this.#status = [];
    this.#method = [];
    this.#at = [];
    this.#pathBytes = [];
    this.#bodyBytes = [];
    this.#bytes = Buffer.allocUnsafe(0);
    this.#head = 0;
    this.#extra = [];
    this.#built = [];
    this.#start = 0;
  }

  #build(slot: number): LoggedRequest {
    const method = this.#method[slot]!;
    const at = this.#at[slot]!;
    const pathEnd = at + this.#pathBytes[slot]!;
    const path = this.#bytes.toString('utf8', at, pathEnd);
    const bodyBytes = this.#bodyBytes[slot]!;
    const text = bodyBytes === -1 ? undefined : this.#bytes.toString('utf8', pathEnd, pathEnd + bodyBytes);
    const extra = this.#extra[slot];
    const entry: LoggedRequest = {
      time: this.#time[slot]!,
      method,
      path,
      xuid: extra?.xuid === null ? undefined : (extra?.xuid ?? this.#subjectOf(method, path)),
      status: this.#status[slot]!,
      body: text === undefined ? undefined : parsed(text),
    };
    if (extra?.fault !== undefined) entry.fault = extra.fault;
    if (extra?.throttled) entry.throttled = true;
    if (extra?.retryAfterSeconds !== undefined) entry.retryAfterSeconds = extra.retryAfterSeconds;
    return entry;
  }
}

/** The body as JSON, or as the text it was when it is not JSON. */
function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
