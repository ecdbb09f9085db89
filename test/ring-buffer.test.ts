import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../src/emulator/ring-buffer.js';

describe('RingBuffer', () => {
  it('keeps the most recent items oldest-first once full, through several wraps', () => {
    const ring = new RingBuffer<number>(3);
    for (let i = 1; i <= 2; i++) ring.push(i);
    expect(ring.toArray()).toEqual([1, 2]);
    for (let i = 3; i <= 11; i++) ring.push(i);
    expect(ring.toArray()).toEqual([9, 10, 11]);
    expect(ring.length).toBe(3);
  });

  it('a capacity of 0 keeps nothing; clear forgets everything', () => {
    const none = new RingBuffer<number>(0);
    none.push(1);
    expect(none.toArray()).toEqual([]);
    const ring = new RingBuffer<number>(2);
    ring.push(1);
    ring.push(2);
    ring.push(3);
    ring.clear();
    expect(ring.toArray()).toEqual([]);
    ring.push(4);
    expect(ring.toArray()).toEqual([4]);
  });

  it('replace keeps the last capacity items of what it is given', () => {
    const ring = new RingBuffer<number>(2);
    ring.push(9);
    ring.replace([1, 2, 3]);
    expect(ring.toArray()).toEqual([2, 3]);
  });

  it('the array it gives is a copy: changing it leaves the buffer as it was', () => {
    const ring = new RingBuffer<number>(2);
    ring.push(1);
    ring.toArray().length = 0;
    expect(ring.toArray()).toEqual([1]);
  });
});
