/**
 * Tells an outage from a blip: failed requests in a row, engine-wide. The engine reports an
 * outage once (an `error` event) when the failures pass a threshold, or at the first
 * authorization failure (every request carries the same credentials), and once when a request
 * succeeds again (a `recovered` event); never once per player or per retry.
 */
import { MpaError, MpaTransportError } from '../errors.js';

/** Whether a failure says the service (or the way to it) is down, rather than refusing one request. */
function isOutageFailure(error: MpaError): boolean {
  if (error instanceof MpaTransportError && error.reason === 'aborted') return false;
  return error.code === 'TRANSPORT' || error.code === 'SERVER' || error.code === 'AUTHORIZATION';
}

/** Consecutive failures since the last success. */
export class OutageTracker {
  #failures = 0;
  #since = 0;
  #reported = false;

  constructor(
    private readonly threshold: number,
    private readonly now: () => number,
  ) {}

  /** Failed requests since the last success. */
  get failures(): number {
    return this.#failures;
  }

  /** Records a failure; returns the outage to report when this one makes it one (once per outage). */
  failed(error: MpaError): { failures: number } | undefined {
    if (!isOutageFailure(error)) return undefined;
    if (this.#failures++ === 0) this.#since = this.now();
    if (this.#reported) return undefined;
    if (this.#failures < this.threshold && error.code !== 'AUTHORIZATION') return undefined;
    this.#reported = true;
    return { failures: this.#failures };
  }

  /** Records a success; returns the outage that ended, if one was reported. */
  succeeded(): { failures: number; durationMs: number } | undefined {
    const ended = this.#reported ? { failures: this.#failures, durationMs: Math.round(this.now() - this.#since) } : undefined;
    this.#failures = 0;
    this.#reported = false;
    return ended;
  }
}
