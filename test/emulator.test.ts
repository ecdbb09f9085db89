import { describe, expect, it } from 'vitest';
import { EmulatorCore, startEmulator, type EmulatorOptions } from '../src/emulator/index.js';
import { START, TITLE, TOKEN } from './helpers.js';
import { MpaValidationError } from '../src/errors.js';

const XUID = '2533274800000001';
const path = (xuid = XUID) => `/titles/${TITLE}/users/${xuid}/activities`;

function harness(options: EmulatorOptions = {}) {
  let now = START;
  const core = new EmulatorCore({ now: () => now, ...options });
  const call = async (method: string, p: string, body?: unknown, auth: string | null = TOKEN) => {
    const r = await core.handle({ method, path: p, headers: { authorization: auth ?? undefined }, body: body === undefined ? '' : JSON.stringify(body) });
    if (r.kind !== 'answer') return { status: 0, kind: r.kind, body: undefined, headers: {} as Record<string, string> };
    return { status: r.status, kind: r.kind, body: r.body ? (JSON.parse(r.body) as Record<string, unknown>) : undefined, headers: r.headers };
  };
  let seq = 1;
  const put = (xuid = XUID, extra: Record<string, unknown> = {}) => call('PUT', path(xuid), { connectionString: 'c', joinRestriction: 'Public', sequenceNumber: String(seq++), ...extra });
  return { core, call, put, advance: (ms: number) => (now += ms), nextSeq: () => seq++ };
}

describe('emulator: validation with the documented 400 bodies', () => {
  it.each([
    ['connectionString too long', { connectionString: 'x'.repeat(513) }],
    ['unknown joinRestriction', { joinRestriction: 'Everyone' }],
    ['currentPlayers 0', { currentPlayers: 0 }],
    ['maxPlayers 1', { maxPlayers: 1 }],
    ['maxPlayers 101', { maxPlayers: 101 }],
    ['groupId 128 chars', { groupId: 'g'.repeat(128) }],
    ['sequenceNumber 0', { sequenceNumber: '0' }],
    ['sequenceNumber above ulong', { sequenceNumber: '18446744073709551616' }],
    ['unknown platform', { platform: 'Amiga' }],
  ])('%s gives 400 RequestValidationError', async (_name, patch) => {
    const { put } = harness();
    const r = await put(XUID, patch);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ errorCode: 'RequestValidationError', debugMessage: expect.any(String) });
  });

  it('accepts a sequence number sent as a JSON number, as the SDK does, and ignores unknown fields', async () => {
    const { call, core } = harness();
    expect((await call('PUT', path(), { connectionString: 'c', joinRestriction: 'Public', sequenceNumber: 53_000_000_000, future: 1 })).status).toBe(204);
    expect(core.activity(XUID)?.sequenceNumber).toBe('53000000000');
  });

  it('refuses a bad xuid or title id in the path', async () => {
    const { call } = harness();
    expect((await call('GET', path('abc'))).body).toMatchObject({ errorCode: 'RequestValidationError' });
    expect((await call('GET', `/titles/0/users/${XUID}/activities`)).status).toBe(400);
  });

  it('answers 401 to a missing or malformed Authorization and to a token not in the accepted set', async () => {
    const { call } = harness({ tokens: [TOKEN] });
    expect((await call('GET', path(), undefined, null)).status).toBe(401);
    expect((await call('GET', path(), undefined, 'Bearer abc')).status).toBe(401);
    expect((await call('GET', path(), undefined, 'XBL3.0 x=1;other')).status).toBe(401);
    expect((await call('GET', path())).status).toBe(204);
  });

  it('refuses a token revoked with setTokens at once, even the one it accepted just before', async () => {
    const { core, call } = harness({ tokens: [TOKEN, 'XBL3.0 x=2;next'] });
    expect((await call('GET', path())).status).toBe(204);
    expect((await call('GET', path())).status).toBe(204); // the same header again
    core.setTokens(['XBL3.0 x=2;next']);
    expect((await call('GET', path())).status).toBe(401);
    expect((await call('GET', path(), undefined, 'XBL3.0 x=2;next')).status).toBe(204);
    core.setTokens(undefined); // any well-formed value again
    expect((await call('GET', path())).status).toBe(204);
  });

  it('answers 400 AuthorizationError for a title the caller may not use', async () => {
    const { call } = harness({ titleIds: [42] });
    expect((await call('GET', path())).body).toMatchObject({ errorCode: 'AuthorizationError' });
  });

  it('answers 404 for unknown routes and 405 for wrong methods', async () => {
    const { call } = harness();
    expect((await call('GET', '/nope')).status).toBe(404);
    expect((await call('POST', path())).status).toBe(405);
    expect((await call('GET', `/titles/${TITLE}/invites/server`)).status).toBe(405);
  });

  it('routes the activity path with or without a trailing slash or a query, and answers 404 to anything near it', async () => {
    const { call, put, core } = harness();
    const base = path();
    for (const p of [base, `${base}/`, `${base}?x=1`, `${base}/?x=1`, `${base}?`]) expect((await call('GET', p)).status, p).toBe(204);
    for (const p of [`/titles//users/${XUID}/activities`, `/titles/${TITLE}/users//activities`, `${base}x`, `${base}/x`, `${base}//`, `/titles/${TITLE}/users/${XUID}/activitie`, `/titles/${TITLE}/user/${XUID}/activities`, `/titles/${TITLE}?/users/${XUID}/activities`, `/titles/${TITLE}/users/${XUID}?/activities`, `x/titles/${TITLE}/users/${XUID}/activities`]) {
      expect((await call('GET', p)).status, p).toBe(404);
    }
    expect((await call('PATCH', `${base}?x=1`)).status).toBe(405);
    // One user, however the path spells the ids: a percent-encoded xuid, a title id with a
    // leading zero, a query; all read and write the same activity.
    expect((await put()).status).toBe(204);
    expect((await call('GET', `/titles/${TITLE}/users/%32${XUID.slice(1)}/activities/?a=b`)).body).toMatchObject({ userId: XUID, titleId: TITLE });
    expect((await call('DELETE', `/titles/${TITLE}/users/%32${XUID.slice(1)}/activities`, { sequenceNumber: '99' })).status).toBe(204);
    expect((await call('PUT', `/titles/42/users/${XUID}/activities`, { connectionString: 'c', joinRestriction: 'Public', sequenceNumber: '1' })).status).toBe(204);
    expect((await call('GET', `/titles/042/users/${XUID}/activities`)).body).toMatchObject({ userId: XUID, titleId: 42 });
    expect((await call('DELETE', `/titles/0042/users/${XUID}/activities/`, { sequenceNumber: '2' })).status).toBe(204);
    expect(core.activities()).toEqual([]);
  });

  it('validates invites (1..16 users, sender required) and recent-player groups', async () => {
    const { call, core } = harness();
    const invite = `/titles/${TITLE}/invites/server`;
    expect((await call('POST', invite, { sender: '1', invitedUsers: [] })).status).toBe(400);
    expect((await call('POST', invite, { invitedUsers: ['2'] })).status).toBe(400);
    expect((await call('POST', invite, { sender: '1', invitedUsers: Array.from({ length: 17 }, (_, i) => String(i + 2)) })).status).toBe(400);
    expect((await call('POST', invite, { sender: '1', invitedUsers: ['2'] })).status).toBe(204);
    const recent = `/titles/${TITLE}/recentplayergroups/server`;
    expect((await call('POST', recent, { recentPlayerGroups: [{ recentPlayers: [{ id: '1' }], timestamp: '2026-01-01T00:00:00Z', encounterType: 'Default' }] })).status).toBe(400);
    expect((await call('POST', recent, { recentPlayerGroups: [{ recentPlayers: [{ id: '1' }, { id: '2' }], timestamp: '2026-01-01T00:00:00Z', encounterType: 'Opponent' }] })).status).toBe(204);
    expect(core.invites).toHaveLength(1);
    expect(core.recentPlayerGroups).toMatchObject([{ players: ['1', '2'], encounterType: 'Opponent' }]);
  });
});

describe('emulator: sequence numbers', () => {
  it('rejects a PUT or DELETE whose number is not greater than the last accepted, even after a DELETE', async () => {
    const { call, core } = harness();
    const body = (n: number) => ({ connectionString: 'c', joinRestriction: 'Public', sequenceNumber: String(n) });
    expect((await call('PUT', path(), body(10))).status).toBe(204);
    expect((await call('PUT', path(), body(10))).body).toMatchObject({ errorCode: 'RequestValidationError', debugMessage: expect.stringMatching(/sequence/i) });
    expect((await call('DELETE', path(), { sequenceNumber: '9' })).status).toBe(400);
    expect((await call('DELETE', path(), { sequenceNumber: '11' })).status).toBe(204);
    expect((await call('PUT', path(), body(11))).status).toBe(400);
    expect(core.activity(XUID)).toBeUndefined();
  });

  it('keeps sequences per user and per title', async () => {
    const { call } = harness();
    const body = { connectionString: 'c', joinRestriction: 'Public', sequenceNumber: '5' };
    expect((await call('PUT', path('1'), body)).status).toBe(204);
    expect((await call('PUT', path('2'), body)).status).toBe(204);
    expect((await call('PUT', `/titles/99/users/1/activities`, body)).status).toBe(204);
  });

  it('forgets a user expiryMs after their last accepted write (sequence number and activity), and not a moment sooner', async () => {
    const { call, core, advance } = harness({ expiryMs: 60_000 });
    const body = (n: number) => ({ connectionString: 'c', joinRestriction: 'Public', sequenceNumber: String(n) });
    expect((await call('PUT', path('1'), body(10))).status).toBe(204);
    expect((await call('PUT', path('2'), body(10))).status).toBe(204);
    expect((await call('DELETE', path('2'), { sequenceNumber: '11' })).status).toBe(204);
    advance(59_999);
    await call('GET', path('3')); // any request lets the emulator sweep
    expect((await call('PUT', path('1'), body(9))).status).toBe(400);
    expect((await call('PUT', path('2'), body(9))).status).toBe(400);
    advance(60_000);
    await call('GET', path('3'));
    expect(core.activities()).toEqual([]);
    // A day-long emulator seeing ever new users stays flat: nothing of these two is kept.
    expect((await call('PUT', path('1'), body(1))).status).toBe(204);
    expect((await call('PUT', path('2'), body(1))).status).toBe(204);
  });

  it('answers 204 and changes nothing for a stale write when staleSequence is ignore', async () => {
    const { call, core } = harness({ staleSequence: 'ignore' });
    await call('PUT', path(), { connectionString: 'new', joinRestriction: 'Public', sequenceNumber: '10' });
    expect((await call('PUT', path(), { connectionString: 'old', joinRestriction: 'Public', sequenceNumber: '9' })).status).toBe(204);
    expect(core.activity(XUID)?.connectionString).toBe('new');
  });
});

describe('emulator: fine-grained rate limits', () => {
  it('write burst: 10 per 15 s, then 429 with Retry-After and a ThrottledEntity', async () => {
    const { put, advance } = harness();
    for (let i = 0; i < 10; i++) {
      expect((await put()).status).toBe(204);
      advance(100);
    }
    const r = await put();
    expect(r.status).toBe(429);
    expect(r.body).toMatchObject({ maxRequests: '10', periodInSeconds: '15', limitType: 'Rate' });
    expect(Number(r.headers['retry-after'])).toBe(14);
    advance(14_000);
    expect((await put()).status).toBe(204);
  });

  it('write sustain: 100 per 300 s, throttled requests counted too', async () => {
    const { put, advance } = harness();
    let accepted = 0;
    for (let i = 0; i < 100; i++) {
      if ((await put()).status === 204) accepted++;
      advance(1600);
    }
    expect(accepted).toBe(100);
    const refused = await put();
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ maxRequests: '100', periodInSeconds: '300' });
    // The refused request occupies the sustain window too: without it the first accepted
    // request (t=0) would free a slot after 140 s; with it, the second one (t=1.6 s) must go.
    expect(refused.headers['retry-after']).toBe('142');
    advance(Number(refused.headers['retry-after']) * 1000);
    expect((await put()).status).toBe(204);
    expect((await put()).status).toBe(429);
  });

  it('read burst 20 and invite burst 7; limits are per user and category', async () => {
    const { call, put } = harness();
    for (let i = 0; i < 20; i++) expect((await call('GET', path())).status).toBe(204);
    expect((await call('GET', path())).status).toBe(429);
    expect((await call('GET', path('2'))).status).toBe(204);
    expect((await put()).status).toBe(204);
    const invite = `/titles/${TITLE}/invites/server`;
    for (let i = 0; i < 7; i++) expect((await call('POST', invite, { sender: '5', invitedUsers: ['2'] })).status).toBe(204);
    expect((await call('POST', invite, { sender: '5', invitedUsers: ['2'] })).status).toBe(429);
    expect((await call('POST', invite, { sender: '6', invitedUsers: ['2'] })).status).toBe(204);
  });

  it.each([
    ['read sustain', 'read', 200, 300],
    ['invite sustain', 'invite', 50, 300],
    ['recent-players burst', 'recent', 3, 15],
    ['recent-players sustain', 'recent', 50, 300],
  ] as const)('%s: %i per %i s', async (_name, kind, limit, periodSeconds) => {
    const { call, advance } = harness();
    const send = () =>
      kind === 'read'
        ? call('GET', path())
        : kind === 'invite'
          ? call('POST', `/titles/${TITLE}/invites/server`, { sender: '5', invitedUsers: ['2'] })
          : call('POST', `/titles/${TITLE}/recentplayergroups/server`, { recentPlayerGroups: [{ recentPlayers: [{ id: '1' }, { id: '2' }], timestamp: '2026-01-01T00:00:00Z', encounterType: 'Default' }] });
    // Spread over the window so that only the window under test can fill.
    const step = Math.floor((periodSeconds * 1000) / (limit + 1));
    for (let i = 0; i < limit; i++) {
      expect((await send()).status).toBeLessThan(300);
      advance(step);
    }
    const refused = await send();
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ maxRequests: String(limit), periodInSeconds: String(periodSeconds) });
  });

  it('limits are configurable or off', async () => {
    const custom = harness({ rateLimits: { write: { burst: 2, sustain: 10 } } });
    await custom.put();
    await custom.put();
    expect((await custom.put()).status).toBe(429);
    const off = harness({ rateLimits: false });
    for (let i = 0; i < 50; i++) expect((await off.put()).status).toBe(204);
  });
});

describe('emulator: expiry, faults, inspection', () => {
  it('drops an activity 24 h after its last update', async () => {
    const { put, core, advance, call } = harness();
    await put();
    advance(23 * 3600_000);
    expect(core.activity(XUID)).toBeDefined();
    await put();
    advance(23 * 3600_000);
    expect((await call('GET', path())).status).toBe(200);
    advance(3600_000);
    expect((await call('GET', path())).status).toBe(204);
    expect(core.activities()).toEqual([]);
  });

  it('injects seeded random faults that repeat run to run', async () => {
    const run = async () => {
      const { call, core } = harness({ rateLimits: false, faults: { seed: 7, rates: { '500': 0.2, '429': 0.1, reset: 0.1 } } });
      const seen: (number | string)[] = [];
      for (let i = 0; i < 40; i++) {
        const r = await call('GET', path());
        seen.push(r.status || r.kind);
      }
      return { seen, faults: core.counters.faults };
    };
    const a = await run();
    const b = await run();
    expect(a).toEqual(b);
    expect(a.faults).toBeGreaterThan(0);
    expect(a.seen).toContain(500);
    expect(a.seen).toContain('reset');
  });

  it('logs every request and counts them; reset forgets everything', async () => {
    const { put, call, core } = harness();
    await put();
    await call('GET', path());
    expect(core.log.map((r) => [r.method, r.status, r.xuid])).toEqual([
      ['PUT', 204, XUID],
      ['GET', 200, XUID],
    ]);
    expect(core.counters).toMatchObject({ requests: 2, byStatus: { 204: 1, 200: 1 }, byMethod: { PUT: 1, GET: 1 } });
    core.reset();
    expect(core.log).toEqual([]);
    expect(core.activities()).toEqual([]);
    expect(core.counters.requests).toBe(0);
  });

  it('serves over real loopback HTTP and drops hung connections on close', async () => {
    const emulator = await startEmulator({ port: 0 });
    expect(emulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(emulator.url + path(), { headers: { authorization: TOKEN } });
    expect(res.status).toBe(204);
    emulator.failNext('hang');
    const hung = fetch(emulator.url + path(), { headers: { authorization: TOKEN } }).then(
      () => 'answered',
      () => 'dropped',
    );
    await new Promise((r) => setTimeout(r, 20));
    await emulator.close();
    expect(await hung).toBe('dropped');
  });
});

describe('emulator: failNext', () => {
  it.each([
    ['an unknown kind', ['418'], 'kind'],
    ['a count that is not a number', ['429', 'x'], 'count'],
    ['a count of 0', ['500', 0], 'count'],
    ['a fractional Retry-After', ['429', 1, 1.5], 'retryAfterSeconds'],
    ['a Retry-After longer than a day', ['503-retry-after', 1, 86_401], 'retryAfterSeconds'],
  ])('refuses %s, naming the argument, and queues nothing', async (_name, args, named) => {
    const { core, put } = harness();
    let error: unknown;
    try {
      (core.failNext as (...a: unknown[]) => void)(...args);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MpaValidationError);
    expect((error as MpaValidationError).issues.map((i) => i.path[0])).toEqual([named]);
    expect(core.pendingFaults()).toEqual([]);
    expect((await put()).status).toBe(204); // the next request is not failed either
  });

  it('queues what it is given', async () => {
    const { core, put } = harness();
    core.failNext('429', 2, 5);
    expect((await put()).headers['retry-after']).toBe('5');
    expect((await put()).status).toBe(429);
    expect((await put()).status).toBe(204);
  });
});

describe('emulator: bounded log and cheap id checks', () => {
  it('keeps the last logSize requests oldest-first while the counters keep counting', async () => {
    const { call, core } = harness({ logSize: 3, rateLimits: false });
    for (let i = 1; i <= 5; i++) await call('GET', path(String(i)));
    expect(core.log.map((r) => r.xuid)).toEqual(['3', '4', '5']);
    expect(core.counters.requests).toBe(5);
    expect(core.counters.byMethod.GET).toBe(5);
  });

  it('retains 10,000 requests by default, no more', async () => {
    const { call, core } = harness({ rateLimits: false });
    for (let i = 1; i <= 10_050; i++) await call('GET', path(String(i)));
    expect(core.log).toHaveLength(10_000);
    expect(core.log[0]!.xuid).toBe('51');
    expect(core.log.at(-1)!.xuid).toBe('10050');
    expect(core.counters.requests).toBe(10_050);
  });

  it('assigning an array replaces the retained log (core.log = [] clears it)', async () => {
    const { call, core } = harness({ logSize: 2 });
    await call('GET', path());
    core.log = [];
    expect(core.log).toEqual([]);
    await call('GET', path());
    expect(core.log).toHaveLength(1);
    expect(core.counters.requests).toBe(2);
  });

  it('invites and recent-player groups are bounded by logSize too', async () => {
    const { call, core } = harness({ logSize: 2, rateLimits: false });
    for (let i = 1; i <= 4; i++) {
      await call('POST', `/titles/${TITLE}/invites/server`, { sender: String(i), invitedUsers: ['99'] });
      await call('POST', `/titles/${TITLE}/recentplayergroups/server`, { recentPlayerGroups: [{ recentPlayers: [{ id: String(i) }, { id: '99' }], timestamp: '2026-01-01T00:00:00Z', encounterType: 'Default' }] });
    }
    expect(core.invites.map((i) => i.sender)).toEqual(['3', '4']);
    expect(core.recentPlayerGroups.map((g) => g.players[0])).toEqual(['3', '4']);
    expect(core.counters.requests).toBe(8);
  });

  it('logSize 0 keeps no request, invite or group, and the counters still count', async () => {
    const { call, put, core } = harness({ logSize: 0, rateLimits: false });
    await put();
    await call('POST', `/titles/${TITLE}/invites/server`, { sender: XUID, invitedUsers: ['99'] });
    expect(core.log).toEqual([]);
    expect(core.invites).toEqual([]);
    expect(core.counters.requests).toBe(2);
  });

  it('logs what only some requests have: the fault, the throttle and its Retry-After, the invite sender, no subject for a 413', async () => {
    const { call, put, core } = harness({ rateLimits: { write: { burst: 1 } } });
    core.failNext('500');
    await put();
    await put();
    await put();
    await call('POST', `/titles/${TITLE}/invites/server`, { sender: '9', invitedUsers: ['99'] });
    core.refuse('PUT', path(), 413, 'RequestEntityTooLarge', 'too big');
    await call('GET', '/nowhere');
    const body = (n: number) => ({ connectionString: 'c', joinRestriction: 'Public', sequenceNumber: String(n) });
    expect(core.log.map(({ time, ...entry }) => entry)).toEqual([
      { method: 'PUT', path: path(), xuid: XUID, status: 500, body: body(1), fault: '500' },
      { method: 'PUT', path: path(), xuid: XUID, status: 204, body: body(2) },
      { method: 'PUT', path: path(), xuid: XUID, status: 429, body: body(3), throttled: true, retryAfterSeconds: 15 },
      { method: 'POST', path: `/titles/${TITLE}/invites/server`, xuid: '9', status: 204, body: { sender: '9', invitedUsers: ['99'] } },
      { method: 'PUT', path: path(), xuid: undefined, status: 413, body: undefined },
      { method: 'GET', path: '/nowhere', xuid: undefined, status: 404, body: undefined },
    ]);
    expect(core.counters).toMatchObject({ requests: 6, faults: 1, throttled: 1, byStatus: { 204: 2, 429: 1, 413: 1, 404: 1, 500: 1 } });
  });

  it('logs a body that is not JSON as its text', async () => {
    const { core } = harness();
    await core.handle({ method: 'PUT', path: path(), headers: { authorization: TOKEN }, body: 'not json' });
    expect(core.log[0]).toMatchObject({ status: 400, body: 'not json' });
  });

  it('a bad percent-escape in the xuid is a 400 naming the xuid', async () => {
    const { call } = harness();
    const r = await call('GET', `/titles/${TITLE}/users/%ZZ/activities`);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ errorCode: 'RequestValidationError', debugMessage: expect.stringMatching(/xuid/) });
    expect((await call('GET', `/titles/${TITLE}/users/%32%35/activities`)).status).toBe(204);
  });

  it.each([
    ['leading zeros', '00042', 204],
    ['the largest ulong', '18446744073709551615', 204],
    ['past the largest ulong', '18446744073709551616', 400],
    ['zero', '0', 400],
    ['a sign', '+42', 400],
  ])('an xuid with %s (%s) in the path answers %i', async (_name, xuid, status) => {
    const { call } = harness();
    expect((await call('GET', path(xuid))).status).toBe(status);
  });

  it.each([
    ['4294967295', 204],
    ['4294967296', 400],
    ['0', 400],
    ['1e3', 400],
  ])('title id %s in the path answers %i', async (title, status) => {
    const { call } = harness();
    expect((await call('GET', `/titles/${title}/users/${XUID}/activities`)).status).toBe(status);
  });

  it('a leading-zero xuid is the same user as its canonical form', async () => {
    const { put, core } = harness();
    await put('00042');
    expect(core.activity('42')).toBeDefined();
  });
});

describe("emulator: users are told apart by their xuid", () => {
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
