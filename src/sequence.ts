/**
 * Sequence numbers on the official Xbox SDK's scale, so that writes from game clients using
 * the SDK and from this server order correctly against each other.
 */

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
  const ticks = BigInt(Math.floor(unixMs)) * 10_000n + EPOCH_1601_TO_1970_TICKS;
  const since2015 = ticks - SDK_OFFSET_TICKS;
  return since2015 > 0n ? since2015 >> 16n : 0n;
}

/** Maps a time to a sequence number. The default is {@link xboxSequenceNumber}. */
export type SequenceSource = (unixMs: number) => bigint;

/**
 * Hands out strictly increasing sequence numbers per user: the clock's value, or one more than
 * the last number given to that user when the clock has not moved on.
 */
export class SequenceStamper {
  readonly #last = new Map<string, bigint>();
  constructor(
    private readonly source: SequenceSource,
    private readonly now: () => number,
  ) {}

  /** The next number for `xuid`, strictly greater than every earlier one for that user. */
  next(xuid: string): bigint {
    const fromClock = this.source(this.now());
    const last = this.#last.get(xuid);
    const value = last !== undefined && fromClock <= last ? last + 1n : fromClock < 1n ? 1n : fromClock;
    this.#last.set(xuid, value);
    return value;
  }
}
