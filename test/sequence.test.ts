import { describe, expect, it } from 'vitest';
import { SequenceStamper, xboxSequenceNumber } from '../src/sequence.js';
import { ActivitySync, MpaClient, MpaValidationError } from '../src/index.js';
import { EmulatorCore, inProcessFetch } from '../src/emulator/index.js';

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
  const t0 = Date.parse('2026-01-01T00:00:00Z');

  it('a write carries the clock’s number when its change happened, not when it leaves', () => {
    const stamper = new SequenceStamper(xboxSequenceNumber, () => t0 + 60_000);
    expect(stamper.stamp('1', t0)).toBe(xboxSequenceNumber(t0));
  });

  it('is strictly increasing per user: a change in the same clock unit takes one more than the last sent', () => {
    const stamper = new SequenceStamper(xboxSequenceNumber, () => t0);
    const a = stamper.stamp('1', t0);
    expect(stamper.stamp('1', t0)).toBe(a + 1n);
    expect(stamper.stamp('1', t0 - 10_000)).toBe(a + 2n);
    expect(stamper.stamp('2', t0)).toBe(a);
  });

  it('follows the clock when it moves on', () => {
    const stamper = new SequenceStamper(xboxSequenceNumber, () => t0);
    stamper.stamp('1', t0);
    expect(stamper.stamp('1', t0 + 60_000)).toBe(xboxSequenceNumber(t0 + 60_000));
  });

  it('a DELETE carries the smallest number above every one sent', () => {
    const stamper = new SequenceStamper(xboxSequenceNumber, () => t0);
    const a = stamper.stamp('1', t0);
    expect(stamper.deleteNumber('1')).toBe(a + 1n);
  });

  it('never hands out 0, even from a clock before 2015', () => {
    const stamper = new SequenceStamper(xboxSequenceNumber, () => 0);
    expect(stamper.stamp('1', 0)).toBe(1n);
  });
});

describe('a clock or sequence source that gives the wrong kind of value', () => {
  const client = new MpaClient({ titleId: 1, fetch: inProcessFetch(new EmulatorCore()), authorization: () => 'XBL3.0 x=1;t' });
  const settings = { groupId: 'g', connectionString: 'c', maxPlayers: 4 };

  it.each([
    ['a string', () => 'abc', /got string/],
    ['a number instead of a bigint', (ms: number) => ms, /got number/],
    ['a bigint above 2^64-1', () => 2n ** 64n, /from 0 to 2\^64-1/],
  ])('a sequence() returning %s is refused at the join that first needs it, naming the option, and nothing is sent', async (_name, sequence, message) => {
    const sync = new ActivitySync({ client, sequence: sequence as never });
    const requests: unknown[] = [];
    sync.on('request', (e) => requests.push(e));
    let error: unknown;
    try {
      sync.group(settings).join('2533274800000001');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MpaValidationError);
    expect((error as MpaValidationError).issues).toEqual([{ path: ['sequence'], message: expect.stringMatching(message) }]);
    const { undeleted } = await sync.close({ timeoutMs: 1000 });
    expect(undeleted).toEqual([]);
    expect(requests).toEqual([]);
  });

  it('a now() returning NaN is refused at the join, naming now, not a RangeError', async () => {
    const sync = new ActivitySync({ client, now: () => Number.NaN });
    expect(() => sync.group(settings).join('2533274800000001')).toThrow(expect.objectContaining({ code: 'VALIDATION', issues: [{ path: ['now'], message: expect.stringMatching(/finite number/) }] }));
    await sync.close({ timeoutMs: 1000 });
  });

  it('xboxSequenceNumber refuses a time that is not a finite number', () => {
    expect(() => xboxSequenceNumber(Number.NaN)).toThrow(MpaValidationError);
    expect(() => xboxSequenceNumber('1' as never)).toThrow(/finite number of Unix ms/);
  });

  it('a stamper on a good clock still hands out the SDK numbers', () => {
    const stamper = new SequenceStamper(xboxSequenceNumber, () => Date.parse('2026-01-01'));
    expect(stamper.stamp('1', Date.parse('2026-01-01'))).toBe(xboxSequenceNumber(Date.parse('2026-01-01')));
  });
});
