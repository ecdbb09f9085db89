/**
 * Sequence numbers on the official Xbox SDK's scale, so that writes from game clients using
 * the SDK and from this server order correctly against each other.
 */

import { MpaValidationError } from './errors.js';

/** 100-ns ticks from 1601-01-01 to 1970-01-01. */
const EPOCH_1601_TO_1970_TICKS = 116_444_736_000_000_000n;
/** The SDK's offset: ticks from 1601-01-01 to 2015-01-01. */
const SDK_OFFSET_TICKS = 130_645_440_000_000_000n;

/**
 * The sequence number the official Xbox SDK would use at `unixMs`:
 * `(ticks since 1601 - 130645440000000000) >> 16`, units of about 6.55 ms since 2015-01-01.
 *
 * @example
 * xboxSequenceNumber(Date.parse('2026-01-01')) // about 5.3e10
 */
export function xboxSequenceNumber(unixMs: number): bigint {
  if (typeof unixMs !== 'number' || !Number.isFinite(unixMs)) throw new MpaValidationError('xboxSequenceNumber', [{ path: ['unixMs'], message: `must be a finite number of Unix ms, got ${describe(unixMs)}` }]);
  const ticks = BigInt(Math.floor(unixMs)) * 10_000n + EPOCH_1601_TO_1970_TICKS;
  const since2015 = ticks - SDK_OFFSET_TICKS;
  return since2015 > 0n ? since2015 >> 16n : 0n;
}

/** The largest sequence number the service takes (a ulong). */
const MAX_SEQUENCE = 2n ** 64n - 1n;

// What a bad value was, without echoing anything large.
function describe(value: unknown): string {
  return typeof value === 'bigint' ? `${value}n` : typeof value === 'number' ? `number ${value}` : typeof value;
}

/** Maps a time to a sequence number. The default is {@link xboxSequenceNumber}. */
export type SequenceSource = (unixMs: number) => bigint;

/**
 * Hands out strictly increasing sequence numbers per user, when a write leaves: the clock's
 * value when its change happened, or one more than the last number sent to that user. A
 * DELETE carries the smallest number above every one sent, so it never erases a newer
 * writer's activity. A released user is forgotten once the clock has passed their last number (until
 * then a fresh stamp could repeat it).
 */
export class SequenceStamper {
  readonly #users = new Map<string, { last: bigint; sent: bigint; released: boolean }>();
  #released: string[] = [];
  #releasedHead = 0;
  constructor(
    private readonly source: SequenceSource,
    private readonly now: () => number,
  ) {
    const issues = [
      ...(typeof source === 'function' ? [] : [{ path: ['source'], message: 'must be a function from Unix ms to a bigint (xboxSequenceNumber, say)' }]),
      ...(typeof now === 'function' ? [] : [{ path: ['now'], message: 'must be a function returning Unix ms (Date.now, say)' }]),
    ];
    if (issues.length) throw new MpaValidationError('SequenceStamper', issues);
  }

  /** The clock's number at `unixMs`, checked: a wrong `now` or `sequence` is refused where it is first used, naming the option. */
  numberAt(unixMs: number): bigint {
    if (typeof unixMs !== 'number' || !Number.isFinite(unixMs)) throw new MpaValidationError('sequence numbers', [{ path: ['now'], message: `now() must return a finite number of Unix ms, got ${describe(unixMs)}` }]);
    const value = this.source(unixMs);
    if (typeof value !== 'bigint' || value < 0n || value > MAX_SEQUENCE) {
      throw new MpaValidationError('sequence numbers', [{ path: ['sequence'], message: `sequence() must return a bigint from 0 to 2^64-1, got ${describe(value)}` }]);
    }
    return value;
  }

  #fromClock(): bigint {
    return this.numberAt(this.now());
  }

  /**
   * The number of a write for `xuid` whose change happened at `changedAtMs` (wall clock):
   * the clock's number at that moment, or one more than the last number sent for that user
   * when that is not greater. Recorded as sent. A change that never leaves takes no number, so
   * the lead over the clock is bounded by the writes actually sent within one clock unit.
   */
  stamp(xuid: string, changedAtMs: number): bigint {
    const atChange = this.numberAt(changedAtMs);
    const last = this.#users.get(xuid)?.sent ?? 0n;
    const value = atChange > last ? atChange : last + 1n;
    this.sent(xuid, value < 1n ? 1n : value);
    return value < 1n ? 1n : value;
  }

  /** Records that `sequenceNumber` left for `xuid`; later stamps are greater. */
  sent(xuid: string, sequenceNumber: bigint): void {
    const user = this.#users.get(xuid);
    if (!user) this.#users.set(xuid, { last: sequenceNumber, sent: sequenceNumber, released: false });
    else {
      user.released = false;
      if (sequenceNumber > user.sent) user.sent = sequenceNumber;
      if (sequenceNumber > user.last) user.last = sequenceNumber;
    }
  }

  /** The highest number sent for `xuid` (0 if none). */
  highestSent(xuid: string): bigint {
    return this.#users.get(xuid)?.sent ?? 0n;
  }

  /** The smallest number above every one sent for `xuid`: what a DELETE carries. */
  deleteNumber(xuid: string): bigint {
    const value = this.highestSent(xuid) + 1n;
    this.sent(xuid, value);
    return value;
  }

  /** `xuid` is gone: forget them once the clock has passed their last number. */
  release(xuid: string): void {
    const user = this.#users.get(xuid);
    if (!user) return;
    user.released = true;
    this.#released.push(xuid);
    this.#drain(this.#fromClock());
  }

  /** Forgets, now, the released users the clock has passed (otherwise done by the next stamp or release). */
  expire(): void {
    this.#drain(this.#fromClock());
  }

  /** Forgets every user (the engine closed). */
  clear(): void {
    this.#users.clear();
    this.#released = [];
    this.#releasedHead = 0;
  }

  /** Users remembered (for memory checks). */
  get size(): number {
    return this.#users.size;
  }

  #drain(fromClock: bigint): void {
    const queue = this.#released;
    while (this.#releasedHead < queue.length) {
      const xuid = queue[this.#releasedHead]!;
      const user = this.#users.get(xuid);
      if (user?.released && user.last >= fromClock) break;
      if (user?.released) this.#users.delete(xuid);
      this.#releasedHead++;
    }
    if (this.#releasedHead > 1024 && this.#releasedHead * 2 > queue.length) {
      this.#released = queue.slice(this.#releasedHead);
      this.#releasedHead = 0;
    }
  }
}
