import { describe, expect, it } from 'vitest';
import { equalJitterDelay, fullJitterDelay, retryAfterDelay } from '../src/backoff.js';
import { seededRandom } from '../src/random.js';

describe('backoff', () => {
  it('full jitter stays under min(cap, base * 2^attempt) and spreads over it', () => {
    const random = seededRandom(3);
    for (const attempt of [0, 1, 2, 5, 10, 40]) {
      const ceiling = Math.min(60_000, 1000 * 2 ** attempt);
      const draws = Array.from({ length: 200 }, () => fullJitterDelay(attempt, { baseMs: 1000, capMs: 60_000 }, random));
      expect(Math.max(...draws)).toBeLessThan(ceiling);
      expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...draws) - Math.min(...draws)).toBeGreaterThan(ceiling / 2);
    }
  });

  it('Retry-After is honoured exactly, plus a jitter below jitterMs', () => {
    expect(retryAfterDelay(5000, 250, () => 0)).toBe(5000);
    expect(retryAfterDelay(5000, 250, () => 0.999)).toBe(5249);
    expect(retryAfterDelay(5000, 0, () => 0.5)).toBe(5000);
  });

  it('seeded random repeats', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    expect(Array.from({ length: 5 }, a)).toEqual(Array.from({ length: 5 }, b));
  });
});

describe('equalJitterDelay', () => {
  it('waits at least half of min(cap, base * 2^attempt), at most all of it', () => {
    const options = { baseMs: 500, capMs: 30_000 };
    expect(equalJitterDelay(0, options, () => 0)).toBe(250);
    expect(equalJitterDelay(0, options, () => 0.999_999)).toBe(500);
    expect(equalJitterDelay(3, options, () => 0)).toBe(2000);
    expect(equalJitterDelay(20, options, () => 0)).toBe(15_000);
  });
});
