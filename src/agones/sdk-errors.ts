/**
 * What an Agones SDK call's failure means. The SDK server answers every refusal of Lists,
 * Counters and player tracking as gRPC UNKNOWN (it has no error interceptor): the meaning is in
 * the message only, so switching on the status code alone misreads them.
 */
import { MpaServerError, MpaTransportError, MpaUsageError, MpaValidationError, type MpaError } from '../errors.js';

/** gRPC status codes the adapter tells apart. */
const GRPC = { CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, UNAVAILABLE: 14 } as const;

/** What a failed SDK call said: an outcome the caller expects, or an error. */
export type SdkOutcome = 'already-present' | 'full' | 'absent' | MpaError;

/** The gRPC status code and message of a client error, without assuming its shape. */
export function grpcDetails(error: unknown): { code: number | undefined; message: string } {
  const e = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; details?: unknown; message?: unknown };
  const code = typeof e.code === 'number' ? e.code : undefined;
  const message = typeof e.details === 'string' && e.details !== '' ? e.details : typeof e.message === 'string' ? e.message : String(error);
  return { code, message };
}

/**
 * Reads a failed Lists or player-tracking call. Full lists, values already there and values
 * not there are outcomes; a missing list or a feature gate that is off is a configuration
 * mistake (`USAGE`); an unreachable sidecar is `TRANSPORT`.
 */
export function classifySdkError(call: string, error: unknown): SdkOutcome {
  const { code, message } = grpcDetails(error);
  if (code === GRPC.UNAVAILABLE || code === GRPC.DEADLINE_EXCEEDED || code === GRPC.CANCELLED) {
    return new MpaTransportError(code === GRPC.DEADLINE_EXCEEDED ? 'timeout' : 'network', `Agones SDK ${call}: the SDK server did not answer (${message})`, { cause: error });
  }
  if (code === GRPC.INVALID_ARGUMENT) return new MpaValidationError(`Agones SDK ${call}`, [{ path: [], message }], error);
  if (/^already exists\b/i.test(message)) return 'already-present';
  if (/^out of range\. No available capacity/i.test(message) || /players are already at capacity/i.test(message)) return 'full';
  if (/^not found: value .* not in list/i.test(message) || /^not found\. Value: .* not found in List/i.test(message)) return 'absent';
  if (/^list not found: |^not found\. .* List not found/i.test(message)) return new MpaUsageError(`Agones SDK ${call}: ${message} (declare the list in the GameServer's spec.lists; the CountsAndLists feature gate must be on)`);
  if (/ not enabled$/.test(message)) return new MpaUsageError(`Agones SDK ${call}: ${message} (turn the feature gate on in your Agones installation)`);
  return new MpaServerError(`Agones SDK ${call}: ${message}`, { cause: error });
}
