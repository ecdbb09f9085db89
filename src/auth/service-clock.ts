/**
 * The time to sign with: the local clock plus an offset learned from the Xbox services' `Date`
 * headers. The services refuse a Signature whose timestamp is minutes away from their clock,
 * so a server whose clock is off must sign with the services' time, not its own.
 */

/** The `Date` header has whole seconds: its value stands for the middle of that second. */
const HALF_SECOND_MS = 500;

/**
 * A new reading moves the offset only when it differs by more than this: the header's
 * one-second resolution and the network delay make readings wobble by about a second, and a
 * signature is judged in minutes.
 */
const STEADY_MS = 2_000;

/**
 * A 403 is taken as a refusal of the Signature's timestamp when that timestamp was further
 * than this from the service's `Date`: well above what the header's resolution and the
 * network delay explain, well below any window the service may allow ("a few minutes").
 */
export const CLOCK_REFUSAL_MS = 60_000;

/** Local time corrected by what the services' `Date` headers said. */
export class ServiceClock {
  readonly #local: () => number;
  #offsetMs = 0;

  constructor(local: () => number) {
    this.#local = local;
  }

  /** What is added to the local clock to get the services' time, in ms (0 until a `Date` says otherwise). */
  get offsetMs(): number {
    return this.#offsetMs;
  }

  /** The services' time as best known: the time to sign with. */
  now(): number {
    return this.#local() + this.#offsetMs;
  }

  /**
   * Learns from an answer's `Date` header. Returns the service's time it stands for, or
   * `undefined` when there was no usable header (then nothing is learnt).
   */
  observe(date: string | null | undefined): number | undefined {
    if (!date) return undefined;
    const at = Date.parse(date);
    if (!Number.isFinite(at)) return undefined;
    const serviceMs = at + HALF_SECOND_MS;
    const offset = serviceMs - this.#local();
    if (Math.abs(offset - this.#offsetMs) > STEADY_MS) this.#offsetMs = offset;
    return serviceMs;
  }
}

/**
 * Whether a 403 refused the Signature for its timestamp: the time it was signed with (read
 * from the header itself) was more than {@link CLOCK_REFUSAL_MS} from the service's time.
 * The service's answer names no reason of its own, so its `Date` is the evidence.
 */
export function refusedForTime(serviceMs: number | undefined, signedAtMs: number | undefined): boolean {
  return serviceMs !== undefined && signedAtMs !== undefined && Math.abs(serviceMs - signedAtMs) > CLOCK_REFUSAL_MS;
}
