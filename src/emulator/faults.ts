/**
 * Fault injection: faults queued by `failNext` come first, then random ones drawn from a seeded
 * generator, so that a test gets exactly the failure it asked for and a soak repeats run to run.
 */
import { MpaValidationError, type ValidationIssue } from '../errors.js';
import { seededRandom, type RandomSource } from '../random.js';
import { answer, json, throttledEntity, type CoreResponse } from './answers.js';

/** A fault the emulator can inject instead of serving a request. */
export type FaultKind = '500' | '503' | '503-retry-after' | '429' | 'reset' | 'hang' | 'not-json';

/** Every {@link FaultKind}, for the checks of `failNext` and `POST /_emulator/faults`. */
export const FAULT_KINDS = ['500', '503', '503-retry-after', '429', 'reset', 'hang', 'not-json'] as const satisfies readonly FaultKind[];
/** Most faults one `failNext` call queues. */
export const FAULT_COUNT_MAX = 1000;
/** Longest Retry-After an injected fault carries: a day. */
export const RETRY_AFTER_MAX_SECONDS = 86_400;

/** Probabilities (0..1) of each fault per request, drawn from a seeded generator. */
export interface FaultOptions {
  /** Seed of the generator; the same seed and requests give the same faults. Default 1. */
  seed?: number;
  rates?: Partial<Record<FaultKind, number>>;
  /** Retry-After sent with injected 429 and 503-retry-after answers, in seconds. Default 1. */
  retryAfterSeconds?: number;
  /** Only requests matching these methods are subject to random faults. Default all. */
  methods?: string[];
}

/** One fault to inject, with the Retry-After it carries when its kind has one. */
export interface Fault {
  kind: FaultKind;
  retryAfterSeconds: number;
}

/** The queued and random faults of one emulator. */
export class Faults {
  readonly #options: FaultOptions;
  #random: RandomSource;
  #queued: Fault[] = [];

  constructor(options: FaultOptions = {}) {
    this.#options = options;
    this.#random = seededRandom(options.seed ?? 1);
  }

  /** The Retry-After of a queued fault when the caller gives none. */
  get defaultRetryAfterSeconds(): number {
    return this.#options.retryAfterSeconds ?? 1;
  }

  /**
   * Queues `count` faults of `kind`. Bad arguments throw an {@link MpaValidationError} naming
   * each, and nothing is queued: a test that asked for a fault must not go on without it.
   */
  queue(kind: FaultKind, count: number, retryAfterSeconds: number): void {
    const issues: ValidationIssue[] = [];
    if (!(FAULT_KINDS as readonly unknown[]).includes(kind)) issues.push({ path: ['kind'], message: `must be one of ${FAULT_KINDS.join(', ')}, got ${describeArgument(kind)}` });
    if (!inRange(count, 1, FAULT_COUNT_MAX)) issues.push({ path: ['count'], message: `must be an integer from 1 to ${FAULT_COUNT_MAX}, got ${describeArgument(count)}` });
    if (!inRange(retryAfterSeconds, 0, RETRY_AFTER_MAX_SECONDS)) issues.push({ path: ['retryAfterSeconds'], message: `must be an integer from 0 to ${RETRY_AFTER_MAX_SECONDS}, got ${describeArgument(retryAfterSeconds)}` });
    if (issues.length) throw new MpaValidationError('failNext arguments', issues);
    for (let i = 0; i < count; i++) this.#queued.push({ kind, retryAfterSeconds });
  }

  /** Queued faults no request has consumed yet (copies). */
  pending(): Fault[] {
    return this.#queued.map((fault) => ({ ...fault }));
  }

  /** The fault for the next request: a queued one, else a random one for its method, else none. */
  draw(method: string): Fault | undefined {
    const queued = this.#queued.shift();
    if (queued) return queued;
    const { rates, methods } = this.#options;
    if (!rates || (methods && !methods.includes(method))) return undefined;
    // One number in [0, 1) picks the kind: each kind owns a slice as wide as its rate.
    let draw = this.#random();
    for (const [kind, rate] of Object.entries(rates) as [FaultKind, number][]) {
      if (draw < rate) return { kind, retryAfterSeconds: this.defaultRetryAfterSeconds };
      draw -= rate;
    }
    return undefined;
  }

  /** Forgets the queue and restarts the random sequence from its seed. */
  reset(): void {
    this.#queued = [];
    this.#random = seededRandom(this.#options.seed ?? 1);
  }
}

/** What the transport does for an injected fault. */
export function faultResponse(fault: Fault): CoreResponse {
  const retryAfter = { 'retry-after': String(fault.retryAfterSeconds) };
  switch (fault.kind) {
    case 'reset':
      return { kind: 'reset' };
    case 'hang':
      return { kind: 'hang' };
    case 'not-json':
      // What a misconfigured gateway in front of the service answers.
      return answer(200, '<html>gateway</html>', { 'content-type': 'text/html' });
    case '500':
      return json(500, { errorCode: 'InternalServerError', debugMessage: 'injected fault' });
    case '503':
      return json(503, { errorCode: 'ServiceUnavailable', debugMessage: 'injected fault' });
    case '503-retry-after':
      return json(503, { errorCode: 'ServiceUnavailable', debugMessage: 'injected fault' }, retryAfter);
    case '429':
      return json(429, throttledEntity(11, 10, 15, 'injected throttle'), retryAfter);
  }
}

function inRange(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

// What a bad argument was, without echoing anything large or odd.
function describeArgument(value: unknown): string {
  return typeof value === 'number' || (typeof value === 'string' && value.length <= 32) ? JSON.stringify(value) : typeof value;
}
