import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EmulatorCore } from '../src/emulator/core.js';
import { canonicalUserKey, userKeyOf } from '../src/emulator/user-key.js';
import { START, TOKEN } from './helpers.js';

describe("a user's key in the emulator's tables", () => {
  it('is the xuid as a number when exact, else the xuid itself: two xuids never share a key', () => {
    expect(userKeyOf('2533274800000001')).toBe(2533274800000001);
    expect(userKeyOf('9007199254740991')).toBe(9007199254740991); // 2^53 - 1
    expect(userKeyOf('9007199254740992')).toBe('9007199254740992'); // 2^53: no longer exact
    expect(userKeyOf('18446744073709551615')).toBe('18446744073709551615');
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }), (xuid) => {
        const key = userKeyOf(xuid.toString());
        // Either the exact number or the very string: a key tells its xuid back.
        expect(BigInt(key)).toBe(xuid);
        expect(typeof key === 'number').toBe(xuid <= BigInt(Number.MAX_SAFE_INTEGER));
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps users apart whose xuids are one apart past 2^53, and the same user apart in two titles', async () => {
    const core = new EmulatorCore({ now: () => START, rateLimits: false });
    const put = (titleId: number, xuid: string, connectionString: string) =>
      core.handle({ method: 'PUT', path: `/titles/${titleId}/users/${xuid}/activities`, headers: { authorization: TOKEN }, body: JSON.stringify({ connectionString, joinRestriction: 'Public', sequenceNumber: '5' }) });
    // One apart past 2^53 (no longer exact as doubles), near 2^64, and one user in two titles.
    const users = [
      [1, '9007199254740992', 'a'],
      [1, '9007199254740993', 'b'],
      [1, '18446744073709551614', 'c'],
      [1, '18446744073709551615', 'd'],
      [1, '2533274800000001', 'e'],
      [2, '2533274800000001', 'f'],
    ] as const;
    for (const [titleId, xuid, connection] of users) expect(await put(titleId, xuid, connection)).toMatchObject({ status: 204 });
    expect(core.activities().map((a) => [a.titleId, a.xuid, a.connectionString])).toEqual(users);
    expect(core.activity('9007199254740993')?.connectionString).toBe('b');
    expect(core.activity('2533274800000001', 2)?.connectionString).toBe('f');
    // A spelling the service would not store (a leading zero) names nobody.
    expect(core.activity('02533274800000001')).toBeUndefined();
    // Each user's sequence number is its own: the same number again is stale for each.
    expect(await put(1, '9007199254740993', 'late')).toMatchObject({ status: 400 });
    expect(await put(2, '2533274800000001', 'late')).toMatchObject({ status: 400 });
  });
});

describe('the canonical xuid check', () => {
  it('accepts exactly 1 to 19 digits without a leading zero, each keyed by its own value', () => {
    fc.assert(
      fc.property(fc.oneof(fc.stringMatching(/^[0-9]{0,21}$/), fc.string({ maxLength: 21 })), (t) => {
        const key = canonicalUserKey(t);
        expect(key !== undefined).toBe(/^[1-9][0-9]{0,18}$/.test(t));
        if (key !== undefined) expect(BigInt(key)).toBe(BigInt(t));
      }),
      { numRuns: 3000 },
    );
  });
});
