/**
 * Randomness comes through a function so that tests and the emulator's fault injection repeat.
 */
import { MpaValidationError } from './errors.js';

/** Returns a float in [0, 1), like `Math.random`. */
export type RandomSource = () => number;

/**
 * A small seeded generator (mulberry32): the same seed gives the same sequence.
 *
 * @example
 * const random = seededRandom(42); random(); // 0.6011037519201636, every run
 */
export function seededRandom(seed: number): RandomSource {
  // NaN or a string would silently become seed 0: every "different" seed the same sequence.
  if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new MpaValidationError('seededRandom', [{ path: ['seed'], message: `must be a finite number, got ${typeof seed === 'number' ? seed : typeof seed}` }]);
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
