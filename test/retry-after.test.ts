import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../src/retry-after.js';

const now = Date.parse('2026-01-01T00:00:00Z');

describe('parseRetryAfter', () => {
  it.each([
    ['0', 0],
    ['5', 5000],
    [' 12 ', 12_000],
    ['120', 120_000],
  ])('reads delta-seconds %j', (header, ms) => {
    expect(parseRetryAfter(header, { now })).toBe(ms);
  });

  it('reads an IMF-fixdate relative to now', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', { now })).toBe(30_000);
  });

  it('reads the obsolete RFC 850 and asctime forms', () => {
    expect(parseRetryAfter('Thursday, 01-Jan-26 00:00:10 GMT', { now })).toBe(10_000);
    expect(parseRetryAfter('Thu Jan  1 00:00:07 2026', { now: now })).toBe(7000 + new Date(now).getTimezoneOffset() * 60_000);
  });

  it('gives 0 for a date in the past', () => {
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', { now })).toBe(0);
  });

  it('caps long delays', () => {
    expect(parseRetryAfter('86400', { now, capMs: 60_000 })).toBe(60_000);
    expect(parseRetryAfter('Fri, 01 Jan 2027 00:00:00 GMT', { now, capMs: 60_000 })).toBe(60_000);
    expect(parseRetryAfter('99999999999999999999999', { now })).toBe(300_000);
  });

  it.each([null, undefined, '', 'soon', '-5', '1.5', '5s', 'Mon, 99 Foo 2026 xx:yy:zz GMT', '12:00:00'])('ignores %j', (header) => {
    expect(parseRetryAfter(header, { now })).toBeUndefined();
  });
});
