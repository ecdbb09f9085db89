/**
 * The interface the emulator listens on. An empty host makes node listen on every interface,
 * where the emulator accepts any well-formed token from anyone who can reach the machine: that
 * must be asked for by name (`0.0.0.0`, `::`), never reached by an empty variable in a script.
 */
import { MpaUsageError, MpaValidationError } from '../errors.js';

/** The default interface: loopback only. */
export const DEFAULT_HOST = '127.0.0.1';

/**
 * Returns the host to listen on (`host`, or {@link DEFAULT_HOST} when undefined). Throws
 * {@link MpaUsageError} for an empty or blank host, {@link MpaValidationError} for one that is
 * not a string.
 */
export function listenHost(host: unknown): string {
  if (host === undefined) return DEFAULT_HOST;
  if (typeof host !== 'string') throw new MpaValidationError('emulator options', [{ path: ['host'], message: `must be a host name or address, got ${typeof host}` }]);
  if (host.trim() === '') {
    throw new MpaUsageError(`startEmulator: host is empty, which would listen on every interface; pass '0.0.0.0' (or '::') to mean that, or leave it out for ${DEFAULT_HOST}`);
  }
  return host;
}
