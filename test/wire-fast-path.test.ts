import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startEmulator } from '../src/index.js';
import { activityInputSchema, deleteInputSchema, wirePlatformSchema } from '../src/schemas.js';
import { fastActivity, fastDelete, isCanonicalUlong } from '../src/emulator/wire-fast-path.js';

// The emulator's own wire schemas, as core.ts builds them: the reference the fast path must match.
const wireActivity = z.object({ ...activityInputSchema.shape, platform: wirePlatformSchema.optional() });
const wireDelete = z.object(deleteInputSchema.shape);

// Values near every edge each field has, valid and not.
const anyValue = fc.oneof(
  fc.constantFrom(undefined, null, true, 0, 1, -1, 1.5, 2, 8, 100, 101, 2 ** 53, Number.MAX_SAFE_INTEGER, NaN, '', '1', '01', '0', 'x'),
  fc.constantFrom('18446744073709551615', '18446744073709551616', '9999999999999999999', '99999999999999999999', ' 1'),
  fc.constantFrom('Public', 'public', 'Followed', 'InviteOnly', 'IOS', 'iOS', 'Win32', 'XboxOne', 'Nope'),
  fc.constantFrom('a'.repeat(127), 'a'.repeat(128), 'a'.repeat(512), 'a'.repeat(513)),
  fc.string({ maxLength: 8 }),
  fc.integer({ min: -5, max: 105 }),
  fc.constant([]),
  fc.constant({}),
);
// Mostly valid bodies, one field at a time going wrong: the fast path's own territory.
const mostlyValid = fc.record(
  {
    connectionString: fc.oneof({ arbitrary: fc.constantFrom('203.0.113.7:7777', 'c'), weight: 5 }, { arbitrary: anyValue, weight: 1 }),
    joinRestriction: fc.oneof({ arbitrary: fc.constantFrom('Public', 'Followed', 'InviteOnly'), weight: 5 }, { arbitrary: anyValue, weight: 1 }),
    sequenceNumber: fc.oneof({ arbitrary: fc.constantFrom('1', '42', 7, '9999999999999999999'), weight: 5 }, { arbitrary: anyValue, weight: 1 }),
    currentPlayers: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 100 }), weight: 5 }, { arbitrary: anyValue, weight: 1 }),
    maxPlayers: fc.oneof({ arbitrary: fc.integer({ min: 2, max: 100 }), weight: 5 }, { arbitrary: anyValue, weight: 1 }),
    groupId: fc.oneof({ arbitrary: fc.constantFrom('m1', ''), weight: 5 }, { arbitrary: anyValue, weight: 1 }),
    platform: fc.oneof({ arbitrary: fc.constantFrom('Win32', 'IOS', 'XboxOne'), weight: 5 }, { arbitrary: anyValue, weight: 1 }),
  },
  { requiredKeys: ['connectionString', 'joinRestriction', 'sequenceNumber'] },
);
const body = fc.oneof(
  mostlyValid,
  fc.record(
    {
      connectionString: anyValue,
      joinRestriction: anyValue,
      sequenceNumber: anyValue,
      currentPlayers: anyValue,
      maxPlayers: anyValue,
      groupId: anyValue,
      platform: anyValue,
      extra: anyValue,
    },
    { requiredKeys: [] },
  ),
  anyValue,
);

describe('the hand-written PUT/DELETE check', () => {
  it('accepts only what zod accepts, and gives exactly what zod gives', () => {
    let accepted = 0;
    fc.assert(
      fc.property(body, (input) => {
        // JSON has no undefined: what a body can really hold.
        const parsed: unknown = input === undefined ? undefined : JSON.parse(JSON.stringify(input));
        const fast = fastActivity(parsed);
        if (fast) accepted++;
        if (fast) expect(JSON.stringify(stripUndefined(fast), bigints)).toBe(JSON.stringify(wireActivity.parse(parsed), bigints));
        const fastDel = fastDelete(parsed);
        if (fastDel) expect(fastDel).toEqual(wireDelete.parse(parsed));
      }),
      { numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(100); // the comparison above really ran
  });

  it('takes the plain bodies a game server sends, so they skip zod', () => {
    const put = { connectionString: '203.0.113.7:7777', joinRestriction: 'Public', sequenceNumber: '42', currentPlayers: 3, maxPlayers: 8, groupId: 'm1', platform: 'Win32' };
    expect(fastActivity(put)).toEqual({ ...put, sequenceNumber: 42n });
    expect(fastActivity({ connectionString: 'c', joinRestriction: 'InviteOnly', sequenceNumber: 7 })?.sequenceNumber).toBe(7n);
    expect(fastDelete({ sequenceNumber: '18' })).toEqual({ sequenceNumber: 18n });
  });

  it('leaves every malformed body to zod: the emulator still answers its documented 400 message', async () => {
    const emulator = await startEmulator({ rateLimits: false });
    try {
      const put = (body: unknown) =>
        fetch(`${emulator.url}/titles/1/users/2533274800000001/activities`, { method: 'PUT', headers: { authorization: 'XBL3.0 x=1;t' }, body: JSON.stringify(body) }).then(async (r) => [r.status, await r.json()]);
      expect(await put({ connectionString: '', joinRestriction: 'Public', sequenceNumber: '1' })).toEqual([400, { errorCode: 'RequestValidationError', debugMessage: 'connectionString: connectionString must not be empty' }]);
      expect(await put({ connectionString: 'c', joinRestriction: 'Public', sequenceNumber: '1', maxPlayers: 1 })).toEqual([
        400,
        { errorCode: 'RequestValidationError', debugMessage: 'maxPlayers: maxPlayers must be at least 2 (greater than 1)' },
      ]);
      // The SDK's spelling is not on the fast path, and is still accepted (by zod).
      const ios = await fetch(`${emulator.url}/titles/1/users/2533274800000001/activities`, { method: 'PUT', headers: { authorization: 'XBL3.0 x=1;t' }, body: JSON.stringify({ connectionString: 'c', joinRestriction: 'Public', sequenceNumber: '2', platform: 'iOS' }) });
      expect(ios.status).toBe(204);
      expect(emulator.activity('2533274800000001')?.platform).toBe('IOS');
    } finally {
      await emulator.close();
    }
  });
});

describe('the canonical unsigned integer check', () => {
  it('checks canonical unsigned integers as the regular expression it replaces did', () => {
    fc.assert(
      fc.property(fc.oneof(fc.stringMatching(/^[0-9]{0,21}$/), fc.string({ maxLength: 21 })), (t) => {
        expect(isCanonicalUlong(t)).toBe(/^[1-9][0-9]{0,18}$/.test(t));
      }),
      { numRuns: 2000 },
    );
  });
});

function stripUndefined(o: object): object {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function bigints(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `${value}n` : value;
}
