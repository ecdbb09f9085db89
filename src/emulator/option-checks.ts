/**
 * Checks of the emulator's numeric options: a bad value is refused at start with an
 * {@link MpaValidationError} naming the option, never turned into "no limit" or "time out now".
 */
import { MpaValidationError } from '../errors.js';

/** Returns `value` (or `fallback` when undefined) if it is an integer in `min..max`; throws otherwise, as `what`'s error. */
export function integerOption(name: string, value: number | undefined, fallback: number, min: number, max: number, what = 'emulator options'): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new MpaValidationError(what, [{ path: [name], message: `must be an integer from ${min} to ${max}, got ${String(value)}` }]);
  }
  return value;
}
