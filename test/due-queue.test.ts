import { createClock } from '@sinonjs/fake-timers';
import { describe, expect, it } from 'vitest';
import { resolveClock } from '../src/engine/clock.js';
import { DueQueue } from '../src/engine/due-queue.js';

describe('DueQueue: deadlines in the order they fall due, on one timer', () => {
  it('hands each value over once its deadline has passed, with a single pending timer', async () => {
    const fake = createClock(Date.parse('2026-01-01'));
    const seen: string[] = [];
    const queue = new DueQueue<string>(resolveClock(fake, undefined), (v) => seen.push(v));
    queue.push('a', 1000);
    queue.push('b', 1000);
    queue.push('c', 2500);
    expect(fake.countTimers()).toBe(1);
    await fake.tickAsync(1000);
    expect(seen).toEqual(['a', 'b']);
    await fake.tickAsync(1500);
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(fake.countTimers()).toBe(0);
  });

  it('compact drops stale entries now; stop forgets everything', async () => {
    const fake = createClock(Date.parse('2026-01-01'));
    const seen: number[] = [];
    const queue = new DueQueue<number>(resolveClock(fake, undefined), (v) => seen.push(v));
    for (let i = 0; i < 10; i++) queue.push(i, 100);
    queue.compact((v) => v % 2 === 0);
    expect(queue.size).toBe(5);
    await fake.tickAsync(100);
    expect(seen).toEqual([0, 2, 4, 6, 8]);
    queue.push(42, 500);
    queue.stop();
    await fake.tickAsync(1000);
    expect(seen).toHaveLength(5);
    expect(queue.size).toBe(0);
  });
});
