import { describe, expect, it } from 'vitest';
import { SequenceStamper, xboxSequenceNumber } from '../src/sequence.js';

describe('xboxSequenceNumber', () => {
  it('follows the SDK formula: (ticks since 1601 - 130645440000000000) >> 16', () => {
    const ms = Date.parse('2026-01-01T00:00:00Z');
    const ticks = BigInt(ms) * 10_000n + 116_444_736_000_000_000n;
    expect(xboxSequenceNumber(ms)).toBe((ticks - 130_645_440_000_000_000n) >> 16n);
  });

  it('is about 5.3e10 in 2026 and 0 at 2015-01-01', () => {
    const v = Number(xboxSequenceNumber(Date.parse('2026-06-01T00:00:00Z')));
    expect(v).toBeGreaterThan(5.0e10);
    expect(v).toBeLessThan(5.6e10);
    expect(xboxSequenceNumber(Date.parse('2015-01-01T00:00:00Z'))).toBe(0n);
  });

  it('advances one unit every 6.5536 ms', () => {
    const ms = Date.parse('2026-01-01T00:00:00Z');
    expect(xboxSequenceNumber(ms + 65_536) - xboxSequenceNumber(ms)).toBe(10_000n);
  });
});

describe('SequenceStamper', () => {
  it('is strictly increasing per user even when the clock stands still', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const stamper = new SequenceStamper(xboxSequenceNumber, () => now);
    const a = stamper.next('1');
    const b = stamper.next('1');
    const c = stamper.next('1');
    expect(b).toBe(a + 1n);
    expect(c).toBe(b + 1n);
    expect(stamper.next('2')).toBe(a);
  });

  it('follows the clock when it moves on', () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const stamper = new SequenceStamper(xboxSequenceNumber, () => now);
    stamper.next('1');
    now += 60_000;
    expect(stamper.next('1')).toBe(xboxSequenceNumber(now));
  });

  it('never hands out 0, even from a clock before 2015', () => {
    const stamper = new SequenceStamper(xboxSequenceNumber, () => 0);
    expect(stamper.next('1')).toBe(1n);
  });
});
