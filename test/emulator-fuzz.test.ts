/**
 * Fuzzing the live emulator's HTTP surface over loopback: random methods, paths (bad escapes
 * included), headers and bodies, sent whole, chunked, truncated, with a lying Content-Length
 * or dropped halfway. The process survives and every answer is a documented status with the
 * documented JSON body. Then PUT bodies near every field's limits: each is accepted exactly
 * when the documented rules allow it, and refused with a 400 naming the field otherwise.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EmulatorCore, startEmulator, type Emulator } from '../src/emulator/index.js';
import { head, rawRequest } from './raw-http.js';
import { TITLE, TOKEN } from './helpers.js';

// The service's statuses (mpa-facts.md), plus 413 for a body past the limit and 408/431 that
// the emulator answers for a slow or oversized request head (see README, The emulator).
const DOCUMENTED = new Set([200, 204, 400, 401, 403, 404, 405, 408, 413, 429, 431, 500, 503]);
const MAX_BODY = 2048;

const crashes: unknown[] = [];
const trap = (error: unknown) => crashes.push(error);
let emulator: Emulator;
beforeAll(async () => {
  process.on('unhandledRejection', trap);
  process.on('uncaughtException', trap);
  emulator = await startEmulator({ maxBodyBytes: MAX_BODY, headersTimeoutMs: 1000, requestTimeoutMs: 1500 });
});
afterAll(async () => {
  await emulator.close();
  process.off('unhandledRejection', trap);
  process.off('uncaughtException', trap);
});

const token = (pattern: RegExp) => fc.stringMatching(pattern);
const printable = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });

const segment = fc.oneof(
  { arbitrary: fc.constant('2533274800000001'), weight: 3 },
  fc.constantFrom('2533274800000001', '00042', '18446744073709551616', '0', '%ZZ', '%', '%E0%A4%A', '%32%35', '..', ''),
  token(/^[A-Za-z0-9%._~-]{1,24}$/),
);
const title = fc.oneof({ arbitrary: fc.constant(String(TITLE)), weight: 4 }, fc.constantFrom('0', '4294967296', '-1', '1e3', '%31'), token(/^[0-9a-z%]{1,12}$/));
const path = fc.oneof(
  { arbitrary: fc.tuple(title, segment).map(([t, s]) => `/titles/${t}/users/${s}/activities`), weight: 4 },
  fc.tuple(title, segment).map(([t, s]) => `/titles/${t}/users/${s}/activities`),
  title.map((t) => `/titles/${t}/invites/server`),
  title.map((t) => `/titles/${t}/activities/query`),
  title.map((t) => `/titles/${t}/recentplayergroups/server`),
  fc.constantFrom('/', '/_emulator/health', '/titles', '*', '/titles/1/users/1/activities?x=%ZZ'),
  printable.map((p) => `/${p}`),
);
const method = fc.oneof({ arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE'), weight: 3 }, fc.constantFrom('GET', 'PUT', 'DELETE', 'POST', 'HEAD', 'PATCH', 'OPTIONS', 'CONNECT'), token(/^[A-Z]{1,10}$/));
const authorization = fc.option(fc.oneof({ arbitrary: fc.constant(TOKEN), weight: 4 }, fc.constant('XBL3.0 x=1;t'), fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 })), { nil: undefined });
const extraHeaders = fc.dictionary(token(/^x-[a-z0-9-]{1,12}$/), fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 }), { maxKeys: 3 });
const body = fc.oneof(
  fc.constant(''),
  fc.constant(JSON.stringify({ connectionString: 'c', joinRestriction: 'Public', sequenceNumber: '5' })),
  fc.constant(JSON.stringify({ sender: '2533274800000001', invitedUsers: ['2533274800000002'] })),
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 200 }),
  fc.integer({ min: MAX_BODY - 10, max: MAX_BODY * 3 }).map((n) => 'x'.repeat(n)),
);
const framing = fc.oneof({ arbitrary: fc.constant('exact'), weight: 6 }, fc.constantFrom('exact', 'chunked', 'truncated', 'aborted', 'lying-short', 'huge-header', 'garbage'));

interface Case {
  method: string;
  path: string;
  authorization: string | undefined;
  headers: Record<string, string>;
  body: string;
  framing: 'exact' | 'chunked' | 'truncated' | 'aborted' | 'lying-short' | 'huge-header' | 'garbage';
}

async function send(c: Case) {
  const headers: Record<string, string | number> = { ...c.headers };
  if (c.authorization !== undefined) headers.authorization = c.authorization;
  const bytes = Buffer.from(c.body);
  const half = bytes.subarray(0, bytes.length >> 1);
  switch (c.framing) {
    case 'exact':
      return rawRequest(emulator.port, { parts: [head(c.method, c.path, { ...headers, 'content-length': bytes.length }), bytes] });
    case 'chunked':
      return rawRequest(emulator.port, {
        parts: [head(c.method, c.path, { ...headers, 'transfer-encoding': 'chunked' }), `${half.length.toString(16)}\r\n`, half, '\r\n', `${(bytes.length - half.length).toString(16)}\r\n`, bytes.subarray(half.length), '\r\n0\r\n\r\n'],
      });
    case 'truncated':
      return rawRequest(emulator.port, { parts: [head(c.method, c.path, { ...headers, 'content-length': bytes.length + 10 }), half], then: 'end' });
    case 'aborted':
      return rawRequest(emulator.port, { parts: [head(c.method, c.path, { ...headers, 'content-length': bytes.length + 10 }), half, 5], then: 'destroy' });
    case 'lying-short':
      return rawRequest(emulator.port, { parts: [head(c.method, c.path, { ...headers, 'content-length': half.length }), bytes] });
    case 'huge-header':
      return rawRequest(emulator.port, { parts: [head(c.method, c.path, { ...headers, 'x-huge': 'h'.repeat(20_000) })] });
    case 'garbage':
      return rawRequest(emulator.port, { parts: [`${c.method} ${c.body.slice(0, 50)} HTTP/9\r\n\r\n`] });
  }
}

it('survives random requests and answers each with a documented status and body', { timeout: 60_000 }, async () => {
  const seen = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(fc.record({ method, path, authorization, headers: extraHeaders, body, framing }), async (c) => {
      const answer = await send(c as Case);
      if (c.framing === 'aborted') return; // nobody is left to answer
      if (c.framing !== 'truncated') expect(answer.status, `no answer to ${JSON.stringify(c).slice(0, 300)}`).toBeDefined();
      if (answer.status === undefined) return;
      seen.set(answer.status, (seen.get(answer.status) ?? 0) + 1);
      expect(DOCUMENTED.has(answer.status), `status ${answer.status}`).toBe(true);
      if (answer.status === 204 || c.method === 'HEAD') return;
      // The live page at the root is the one documented answer that is HTML.
      if (answer.status === 200 && c.path.split('?')[0] === '/') {
        expect(answer.headers['content-type']).toMatch(/^text\/html/);
        return;
      }
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      const parsed = JSON.parse(answer.body) as Record<string, unknown>;
      if (answer.status >= 400 && answer.status !== 429) expect(parsed).toMatchObject({ errorCode: expect.any(String), debugMessage: expect.any(String) });
      if (answer.status === 429) expect(parsed).toMatchObject({ maxRequests: expect.any(String), periodInSeconds: expect.any(String) });
    }),
    { numRuns: 400, seed: 20261123 },
  );
  // The runs reached deep enough to matter: past authorization and validation.
  expect([...seen.keys()]).toEqual(expect.arrayContaining([204, 400, 401, 404, 405, 413]));
  const res = await fetch(`${emulator.url}/titles/${TITLE}/users/2533274800000009/activities`, { headers: { authorization: TOKEN } });
  expect(res.status).toBe(204);
  await new Promise((r) => setTimeout(r, 20));
  expect(crashes).toEqual([]);
});

// Values near every edge each activity field has, valid and not.
const anyValue = fc.oneof(
  fc.constantFrom(undefined, null, true, 0, 1, -1, 1.5, 2, 8, 100, 101, 2 ** 53, Number.MAX_SAFE_INTEGER, NaN, '', '1', '01', '0', 'x'),
  fc.constantFrom('18446744073709551615', '18446744073709551616', '9999999999999999999', '99999999999999999999', ' 1'),
  fc.constantFrom('Public', 'public', 'Followed', 'InviteOnly', 'IOS', 'iOS', 'Win32', 'xboxone', 'Nope'),
  fc.constantFrom('a'.repeat(127), 'a'.repeat(128), 'a'.repeat(512), 'a'.repeat(513)),
  fc.string({ maxLength: 8 }),
  fc.integer({ min: -5, max: 105 }),
  fc.constant([]),
  fc.constant({}),
);
const sometimes = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ arbitrary: valid, weight: 5 }, { arbitrary: anyValue, weight: 1 });
// Mostly valid bodies with one field now and then going wrong, and bodies of anything at all.
const activityBody = fc.oneof(
  fc.record(
    {
      connectionString: sometimes(fc.constantFrom('203.0.113.7:7777', 'c')),
      joinRestriction: sometimes(fc.constantFrom('Public', 'Followed', 'InviteOnly')),
      sequenceNumber: sometimes(fc.constantFrom('1', '42', 7, '9999999999999999999')),
      currentPlayers: sometimes(fc.integer({ min: 1, max: 100 })),
      maxPlayers: sometimes(fc.integer({ min: 2, max: 100 })),
      groupId: sometimes(fc.constantFrom('m1', '')),
      platform: sometimes(fc.constantFrom('Win32', 'IOS', 'iOS', 'XboxOne')),
      unknownField: anyValue,
    },
    { requiredKeys: ['connectionString', 'joinRestriction', 'sequenceNumber'] },
  ),
  anyValue,
);

const PLATFORMS = ['Android', 'IOS', 'Nintendo', 'PlayStation', 'Scarlett', 'Win32', 'WindowsOneCore', 'XboxOne'];
const isInt = (v: unknown, min: number, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const optional = (v: unknown, check: (v: unknown) => boolean) => v === undefined || check(v);
/** The documented rules for a PUT body (mpa-facts.md), written out plainly: the oracle. */
function documented(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const b = body as Record<string, unknown>;
  const sequence = b.sequenceNumber;
  const sequenceOk =
    (typeof sequence === 'string' && /^[0-9]+$/.test(sequence) && BigInt(sequence) >= 1n && BigInt(sequence) <= 2n ** 64n - 1n) ||
    (typeof sequence === 'number' && Number.isSafeInteger(sequence) && sequence >= 1);
  return (
    typeof b.connectionString === 'string' &&
    b.connectionString.length >= 1 &&
    b.connectionString.length <= 512 &&
    ['Public', 'Followed', 'InviteOnly'].includes(b.joinRestriction as string) &&
    sequenceOk &&
    optional(b.currentPlayers, (v) => isInt(v, 1, 100)) &&
    optional(b.maxPlayers, (v) => isInt(v, 2, 100)) &&
    optional(b.groupId, (v) => typeof v === 'string' && v.length <= 127) &&
    optional(b.platform, (v) => typeof v === 'string' && PLATFORMS.some((p) => p.toLowerCase() === v.toLowerCase()))
  );
}

it('accepts a PUT body exactly when the documented rules allow it, and stores what was sent', async () => {
  const core = new EmulatorCore({ rateLimits: false });
  let user = 2533274800000000n;
  await fc.assert(
    fc.asyncProperty(activityBody, async (body) => {
      const xuid = String(++user); // a fresh user: no earlier sequence number to be stale against
      const answer = await core.handle({ method: 'PUT', path: `/titles/${TITLE}/users/${xuid}/activities`, headers: { authorization: TOKEN }, body: body === undefined ? '' : JSON.stringify(body) });
      if (answer.kind !== 'answer') throw new Error(`no answer: ${answer.kind}`);
      if (!documented(body)) {
        expect(answer.status, JSON.stringify(body)).toBe(400);
        const refusal = JSON.parse(answer.body) as { errorCode: string; debugMessage: string };
        expect(refusal.errorCode).toBe('RequestValidationError');
        // The message names the field that is wrong (or the body, when it is not an object).
        expect(refusal.debugMessage).toMatch(/^(body|connectionString|joinRestriction|sequenceNumber|currentPlayers|maxPlayers|groupId|platform): /);
        expect(core.activity(xuid)).toBeUndefined();
        return;
      }
      expect(answer.status, JSON.stringify(body)).toBe(204);
      const b = body as Record<string, unknown>;
      expect(core.activity(xuid)).toMatchObject({
        xuid,
        connectionString: b.connectionString,
        joinRestriction: b.joinRestriction,
        sequenceNumber: BigInt(b.sequenceNumber as string).toString(),
        currentPlayers: b.currentPlayers,
        maxPlayers: b.maxPlayers,
        groupId: b.groupId,
        platform: b.platform === undefined ? undefined : PLATFORMS.find((p) => p.toLowerCase() === (b.platform as string).toLowerCase()),
      });
    }),
    { numRuns: 2000, seed: 20261124 },
  );
});
