import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startEmulator } from '../src/index.js';
import { activityInputSchema, deleteInputSchema, wirePlatformSchema } from '../src/schemas.js';
import { fastActivity, fastDelete, isCanonicalUlong, scanActivity } from '../src/emulator/wire-fast-path.js';

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

// The texts the scanner meets: every body above as JSON, compact or indented, with keys
// repeated, escapes, fractions, non-ASCII and stray characters spliced in at random places.
const PLAIN_PUT = '{"connectionString":"203.0.113.7:7777","joinRestriction":"Public","sequenceNumber":"1","currentPlayers":3,"maxPlayers":8,"groupId":"m1"}';
const splice = fc.constantFrom('\\u0041', '\\n', '\\"', '.5', 'e2', '-', '0', '00', ',', '}', '{', '"', ':', ' ', '\n', '\t', '\u0001', '\u007f', '[1]', 'null', 'true', '"x":1', '"__proto__":1', '"sequenceNumber":"2"', '"sequenceNumber":3', '"platform":"Win32"', 'é', '中', '\ud800');
const text = fc.oneof(
  fc.tuple(body, fc.constantFrom(undefined, undefined, 0, 1, '\t')).map(([input, indent]) => (input === undefined ? '' : JSON.stringify(input, null, indent as string | number | undefined))),
  fc.tuple(fc.oneof(body.map((input) => (input === undefined ? '' : JSON.stringify(input))), fc.constant(PLAIN_PUT)), fc.nat(), splice).map(([t, at, piece]) => t.slice(0, at % (t.length + 1)) + piece + t.slice(at % (t.length + 1))),
  fc.tuple(fc.constant(PLAIN_PUT), fc.nat()).map(([t, at]) => t.slice(0, at % t.length) + t.slice((at % t.length) + 1)),
  fc.string({ maxLength: 40 }),
);
const scan = (t: string) => scanActivity(t);

describe('reading a PUT body without JSON.parse', () => {
  it('gives exactly what JSON.parse and the hand-written check give, or leaves the body to them', () => {
    let scanned = 0;
    fc.assert(
      fc.property(text, (t) => {
        const fast = scan(t);
        if (!fast) return;
        scanned++;
        // Whatever it reads is valid JSON, and reads the same through JSON.parse.
        expect(JSON.stringify(fast, bigints)).toBe(JSON.stringify(fastActivity(JSON.parse(t)), bigints));
      }),
      { numRuns: 5000 },
    );
    expect(scanned).toBeGreaterThan(200); // the comparison above really ran
  });

  it('reads the compact body clients send', () => {
    expect(scan(PLAIN_PUT)).toEqual({ connectionString: '203.0.113.7:7777', joinRestriction: 'Public', sequenceNumber: 1n, currentPlayers: 3, maxPlayers: 8, groupId: 'm1', platform: undefined });
    expect(scan('{"joinRestriction":"InviteOnly","sequenceNumber":12,"connectionString":"c","platform":"Win32"}')).toEqual(fastActivity({ joinRestriction: 'InviteOnly', sequenceNumber: 12, connectionString: 'c', platform: 'Win32' }));
    // A repeated key keeps its last value, as JSON.parse does.
    expect(scan('{"connectionString":"a","joinRestriction":"Public","sequenceNumber":"1","connectionString":"b"}')?.connectionString).toBe('b');
  });

  it('reads every value at the edges of its range exactly, and leaves the ones past them to the checks', () => {
    const put = (members: string) => scan(`{"connectionString":"c","joinRestriction":"Followed",${members}}`);
    // Sequence numbers: a string of up to 19 digits, a number of up to 15, each exact.
    expect(put('"sequenceNumber":"999999999999999"')?.sequenceNumber).toBe(999999999999999n);
    expect(put('"sequenceNumber":"1000000000000000"')?.sequenceNumber).toBe(1000000000000000n);
    expect(put('"sequenceNumber":"9999999999999999999"')?.sequenceNumber).toBe(9999999999999999999n);
    expect(put('"sequenceNumber":999999999999999')?.sequenceNumber).toBe(999999999999999n);
    expect(put('"sequenceNumber":"18446744073709551615"')).toBeUndefined(); // valid, but 20 digits: zod decides
    expect(put('"sequenceNumber":1000000000000000')).toBeUndefined();
    expect(put('"sequenceNumber":"0"')).toBeUndefined();
    expect(put('"sequenceNumber":0')).toBeUndefined();
    // Player counts: 1 to 100 players, 2 to 100 places.
    expect(put('"sequenceNumber":1,"currentPlayers":100,"maxPlayers":100')).toMatchObject({ currentPlayers: 100, maxPlayers: 100 });
    expect(put('"sequenceNumber":1,"currentPlayers":1,"maxPlayers":2')).toMatchObject({ currentPlayers: 1, maxPlayers: 2 });
    for (const bad of ['"currentPlayers":0', '"currentPlayers":101', '"maxPlayers":1', '"maxPlayers":101', '"currentPlayers":"3"']) {
      expect(put(`"sequenceNumber":1,${bad}`), bad).toBeUndefined();
    }
    // Strings: a connection string of 1 to 512 characters, a group id of up to 127, the three
    // join restrictions and the canonical platform names, each as the constant it is.
    const long = 'a'.repeat(512);
    expect(scan(`{"connectionString":"${long}","joinRestriction":"InviteOnly","sequenceNumber":"2","groupId":"${'g'.repeat(127)}","platform":"WindowsOneCore"}`)).toEqual({
      connectionString: long, joinRestriction: 'InviteOnly', sequenceNumber: 2n, currentPlayers: undefined, maxPlayers: undefined, groupId: 'g'.repeat(127), platform: 'WindowsOneCore',
    });
    expect(put('"sequenceNumber":1,"groupId":""')?.groupId).toBe('');
    for (const bad of [`"connectionString":"${long}a"`, '"connectionString":""', `"groupId":"${'g'.repeat(128)}"`, '"platform":"iOS"', '"joinRestriction":"public"', '"joinRestriction":"Publics"']) {
      expect(put(`"sequenceNumber":1,${bad}`), bad).toBeUndefined();
    }
  });

  it('leaves every other form to JSON.parse: whitespace, escapes, fractions, signs, nested values, unknown keys, non-ASCII, trailing text', () => {
    const base = '"joinRestriction":"Public","sequenceNumber":"1"';
    for (const t of [
      `{ "connectionString":"a",${base}}`,
      `{"connectionString":"a\\u0041",${base}}`,
      `{"connectionString":"a",${base},"currentPlayers":3.0}`,
      `{"connectionString":"a",${base},"currentPlayers":3e0}`,
      `{"connectionString":"a",${base},"currentPlayers":-3}`,
      `{"connectionString":"a",${base},"currentPlayers":03}`,
      `{"connectionString":"a",${base},"currentPlayers":1234567890123456}`,
      `{"connectionString":"a",${base},"groupId":null}`,
      `{"connectionString":"a",${base},"extra":1}`,
      `{"connectionString":"é",${base}}`,
      `{"connectionString":"a",${base}} `,
      `{"connectionString":"a",${base},}`,
      `{"connectionString":"a",${base}`,
      `{"connectionString":"a\u0001",${base}}`,
      '{}',
      '',
    ]) {
      expect(scan(t), t).toBeUndefined();
    }
  });

  it('a PUT the scanner leaves to JSON.parse is still accepted or refused as before', async () => {
    const emulator = await startEmulator({ rateLimits: false });
    try {
      const put = (text: string) => fetch(`${emulator.url}/titles/1/users/2533274800000001/activities`, { method: 'PUT', headers: { authorization: 'XBL3.0 x=1;t' }, body: text }).then((r) => r.status);
      expect(await put('{ "connectionString": "a\\u0041", "joinRestriction": "Public", "sequenceNumber": "1" }')).toBe(204);
      expect(emulator.activity('2533274800000001')?.connectionString).toBe('aA');
      expect(await put('{"connectionString":"b","joinRestriction":"Public","sequenceNumber":"2","maxPlayers":1}')).toBe(400);
      expect(await put('{"connectionString":"c","joinRestriction":"Public","sequenceNumber":"3","currentPlayers":2,"maxPlayers":4}')).toBe(204);
      expect(emulator.activity('2533274800000001')).toMatchObject({ connectionString: 'c', sequenceNumber: '3', currentPlayers: 2, maxPlayers: 4 });
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
