import { afterEach, describe, expect, it } from 'vitest';
import { MpaClient, type ObservedResponse } from '../src/client.js';
import {
  MpaAuthorizationError,
  MpaRequestRejectedError,
  MpaServerError,
  MpaThrottledError,
  MpaTransportError,
  MpaValidationError,
} from '../src/errors.js';
import type { Emulator } from '../src/emulator/server.js';
import { activity, emulatorAndClient, failure, TITLE, TOKEN } from './helpers.js';

const XUID = '2533274800000001';
let emulator: Emulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

async function setup(...args: Parameters<typeof emulatorAndClient>) {
  const made = await emulatorAndClient(...args);
  emulator = made.emulator;
  return made;
}


describe('MpaClient over loopback HTTP', () => {
  it('PUT, GET, DELETE round-trip with the documented headers and a decimal-string sequence number', async () => {
    const { emulator, client } = await setup();
    await client.setActivity(XUID, activity(5n));
    const read = await client.getActivity(XUID);
    expect(read).toMatchObject({ connectionString: '203.0.113.7:7777?m=42', joinRestriction: 'Followed', currentPlayers: 3, maxPlayers: 8, groupId: 'match-42', sequenceNumber: '5', titleId: TITLE });
    const put = emulator.core.log[0]!;
    expect(put).toMatchObject({ method: 'PUT', path: `/titles/${TITLE}/users/${XUID}/activities`, status: 204 });
    expect((put.body as { sequenceNumber: unknown }).sequenceNumber).toBe('5');
    await client.deleteActivity(XUID, { sequenceNumber: 6 });
    expect(emulator.core.log[2]!.body).toEqual({ sequenceNumber: '6' });
    expect(await client.getActivity(XUID)).toBeNull();
  });

  it('reads the sequence number as a decimal string, like the emulator stores it: the answer survives JSON.stringify', async () => {
    const { emulator, client } = await setup();
    await client.setActivity(XUID, activity(2n ** 63n));
    const read = (await client.getActivity(XUID))!;
    expect(read.sequenceNumber).toBe('9223372036854775808');
    expect(read.sequenceNumber).toBe(emulator.activity(XUID)!.sequenceNumber);
    expect(JSON.parse(JSON.stringify(read))).toEqual(read);
    const [queried] = await client.queryActivities([XUID]);
    expect(queried!.activities![0]!.sequenceNumber).toBe('9223372036854775808');
    expect(() => JSON.stringify(queried)).not.toThrow();
  });

  it('reads a sequence number sent as a number or with leading zeros as the same canonical string; a fraction is an unreadable answer', async () => {
    const answering = (body: object) =>
      new MpaClient({ titleId: TITLE, baseUrl: 'http://127.0.0.1:9', authorization: () => TOKEN, fetch: async () => Response.json(body) });
    expect((await answering({ connectionString: 'c', sequenceNumber: 42 }).getActivity(XUID))?.sequenceNumber).toBe('42');
    expect((await answering({ connectionString: 'c', sequenceNumber: '0042' }).getActivity(XUID))?.sequenceNumber).toBe('42');
    expect(await failure(answering({ connectionString: 'c', sequenceNumber: 1.5 }).getActivity(XUID))).toMatchObject({ code: 'TRANSPORT', reason: 'body' });
  });

  it('sends Authorization, Content-Type (GET too), x-xbl-contract-version and a User-Agent', async () => {
    const seen: Headers[] = [];
    const { client } = await setup({}, { fetch: (input, init) => (seen.push(new Headers(init?.headers)), fetch(input, init)) });
    await client.getActivity(XUID);
    await client.setActivity(XUID, activity(1));
    for (const h of seen) {
      expect(h.get('authorization')).toBe(TOKEN);
      expect(h.get('content-type')).toBe('application/json');
      expect(h.get('x-xbl-contract-version')).toBe('1');
      expect(h.get('user-agent')).toMatch(/^mpa-sync\/\d+\.\d+\.\d+/);
    }
  });

  it('sends a server invite and queries activities, splitting more than 30 users', async () => {
    const { emulator, client } = await setup();
    await client.sendServerInvite({ sender: XUID, invitedUsers: ['2', '3'], connectionString: 'c', platform: 'XboxOne' });
    expect(emulator.core.invites).toMatchObject([{ sender: XUID, invitedUsers: ['2', '3'], connectionString: 'c', platform: 'XboxOne' }]);
    await client.setActivity('7', activity(1));
    const users = Array.from({ length: 65 }, (_, i) => String(i + 1));
    const result = await client.queryActivities([...users, '7']);
    expect(result).toHaveLength(65);
    expect(result.find((r) => r.xuid === '7')!.activities).toHaveLength(1);
    expect(result.find((r) => r.xuid === '8')!.activities).toEqual([]);
    const queries = emulator.core.log.filter((r) => r.path.endsWith('/activities/query'));
    expect(queries.map((q) => (q.body as { users: string[] }).users.length)).toEqual([30, 30, 5]);
  });

  it('reports recent-player groups', async () => {
    const { emulator, client } = await setup();
    await client.reportRecentPlayerGroups([{ recentPlayers: [{ id: '1' }, { id: '2' }], timestamp: '2026-01-01T00:00:00Z', encounterType: 'Teammate' }]);
    expect(emulator.core.recentPlayerGroups).toMatchObject([{ players: ['1', '2'], encounterType: 'Teammate' }]);
  });

  it('keeps null for a user the query could not read', async () => {
    const fetchNull: typeof fetch = async () => new Response(JSON.stringify({ userActivities: [{ userId: '5', activities: null }] }), { status: 200 });
    const client = new MpaClient({ titleId: TITLE, authorization: () => TOKEN, fetch: fetchNull });
    expect(await client.queryActivities(['5'])).toEqual([{ xuid: '5', activities: null }]);
  });

  it('maps 400 RequestValidationError to MpaRequestRejectedError and flags a stale sequence as superseded', async () => {
    const { client } = await setup();
    await client.setActivity(XUID, activity(10));
    const error = await failure(client.setActivity(XUID, activity(10)));
    expect(error).toBeInstanceOf(MpaRequestRejectedError);
    expect(error).toMatchObject({ code: 'REQUEST_REJECTED', status: 400, errorCode: 'RequestValidationError', retryable: false });
    expect((error as MpaRequestRejectedError).superseded).toBe(true);
  });

  it('maps 400 AuthorizationError to MpaAuthorizationError', async () => {
    const { client } = await setup({ titleIds: [1] });
    const error = await failure(client.getActivity(XUID));
    expect(error).toBeInstanceOf(MpaAuthorizationError);
    expect(error).toMatchObject({ code: 'AUTHORIZATION', status: 400, errorCode: 'AuthorizationError' });
  });

  it('on 401 refreshes the token once and retries once', async () => {
    const asked: boolean[] = [];
    const { emulator, client } = await setup(
      { tokens: ['XBL3.0 x=1;fresh'] },
      { authorization: ({ forceRefresh }) => (asked.push(forceRefresh), forceRefresh ? 'XBL3.0 x=1;fresh' : 'XBL3.0 x=1;stale') },
    );
    await client.setActivity(XUID, activity(1));
    expect(asked).toEqual([false, true]);
    expect(emulator.core.log.map((r) => r.status)).toEqual([401, 204]);
  });

  it('gives MpaAuthorizationError after a second 401, without a third attempt and without the token', async () => {
    const { emulator, client } = await setup({ tokens: ['XBL3.0 x=1;other'] });
    const error = await failure(client.getActivity(XUID));
    expect(error).toMatchObject({ code: 'AUTHORIZATION', status: 401 });
    expect(emulator.core.log).toHaveLength(2);
    expect(JSON.stringify({ ...error, message: error.message, stack: error.stack })).not.toContain('secret-token-abc');
  });

  it('maps 429 with the ThrottledEntity and Retry-After (delta-seconds)', async () => {
    const { emulator, client } = await setup({ rateLimits: { read: { burst: 1, sustain: 100 } } });
    await client.getActivity(XUID);
    const error = await failure(client.getActivity(XUID));
    expect(error).toBeInstanceOf(MpaThrottledError);
    const throttled = error as MpaThrottledError;
    expect(throttled.retryAfterMs).toBeGreaterThan(0);
    expect(throttled.retryAfterMs! % 1000).toBe(0);
    expect(throttled.throttle).toMatchObject({ maxRequests: 1, periodInSeconds: 15, limitType: 'Rate' });
    expect(emulator.core.counters.throttled).toBe(1);
  });

  it('reads Retry-After as an HTTP-date and tolerates numeric fields and `type`', async () => {
    const at = new Date(Date.now() + 20_000).toUTCString();
    const fake: typeof fetch = async () =>
      new Response(JSON.stringify({ currentRequests: 11, maxRequests: 10, periodInSeconds: 15, type: 'burst', extra: true }), { status: 429, headers: { 'retry-after': at } });
    const client = new MpaClient({ titleId: TITLE, authorization: () => TOKEN, fetch: fake });
    const error = (await failure(client.getActivity(XUID))) as MpaThrottledError;
    expect(error.retryAfterMs).toBeGreaterThan(18_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(20_000);
    expect(error.throttle).toMatchObject({ currentRequests: 11, maxRequests: 10, limitType: 'burst' });
  });

  it('maps 503 with Retry-After to throttled and 500/503 without to MpaServerError', async () => {
    const { emulator, client } = await setup();
    emulator.failNext('503-retry-after', 1, 7);
    expect(await failure(client.getActivity(XUID))).toMatchObject({ code: 'THROTTLED', status: 503, retryAfterMs: 7000 });
    emulator.failNext('503');
    expect(await failure(client.getActivity(XUID))).toBeInstanceOf(MpaServerError);
    emulator.failNext('500');
    expect(await failure(client.getActivity(XUID))).toMatchObject({ code: 'SERVER', status: 500, retryable: true });
  });

  it('maps a connection reset to MpaTransportError(network)', async () => {
    const { emulator, client } = await setup();
    emulator.failNext('reset');
    expect(await failure(client.setActivity(XUID, activity(1)))).toMatchObject({ code: 'TRANSPORT', reason: 'network', retryable: true });
  });

  it('maps a hung answer to MpaTransportError(timeout)', async () => {
    const { emulator, client } = await setup({}, { timeoutMs: 200 });
    emulator.failNext('hang');
    expect(await failure(client.getActivity(XUID))).toMatchObject({ code: 'TRANSPORT', reason: 'timeout' });
  });

  it('maps a caller abort to MpaTransportError(aborted), not retryable', async () => {
    const { emulator, client } = await setup();
    emulator.failNext('hang');
    const controller = new AbortController();
    const pending = failure(client.getActivity(XUID, { signal: controller.signal }));
    setTimeout(() => controller.abort(), 20);
    expect(await pending).toMatchObject({ code: 'TRANSPORT', reason: 'aborted', retryable: false });
  });

  it('maps a non-JSON 200 body to MpaTransportError(body)', async () => {
    const { emulator, client } = await setup();
    emulator.failNext('not-json');
    expect(await failure(client.getActivity(XUID))).toMatchObject({ code: 'TRANSPORT', reason: 'body' });
  });

  it('maps an authorization provider failure without calling the service', async () => {
    const { client, calls } = await setup({}, { authorization: () => Promise.reject(new Error('vault down')) });
    expect(await failure(client.getActivity(XUID))).toMatchObject({ code: 'AUTHORIZATION' });
    expect(calls()).toBe(0);
  });
});

describe('MpaClient options', () => {
  const auth = () => TOKEN;
  it('refuses http:// to a non-loopback host unless allowed', () => {
    expect(() => new MpaClient({ titleId: 1, authorization: auth, baseUrl: 'http://example.com' })).toThrow(MpaValidationError);
    expect(() => new MpaClient({ titleId: 1, authorization: auth, baseUrl: 'http://example.com', allowInsecureHttp: true })).not.toThrow();
    expect(() => new MpaClient({ titleId: 1, authorization: auth, baseUrl: 'http://127.0.0.1:8787' })).not.toThrow();
    expect(() => new MpaClient({ titleId: 1, authorization: auth, baseUrl: 'http://localhost:8787' })).not.toThrow();
    expect(() => new MpaClient({ titleId: 1, authorization: auth, baseUrl: 'http://[::1]:8787' })).not.toThrow();
  });

  it('accepts a title id as a decimal string and refuses out-of-range ones', () => {
    expect(new MpaClient({ titleId: '1234567890', authorization: auth }).titleId).toBe(1234567890);
    expect(() => new MpaClient({ titleId: 0, authorization: auth })).toThrow(/titleId/);
    expect(() => new MpaClient({ titleId: 2 ** 32, authorization: auth })).toThrow(/titleId/);
    expect(() => new MpaClient({ titleId: 'abc', authorization: auth })).toThrow(/titleId/);
  });

  it('defaults to the documented host', () => {
    expect(new MpaClient({ titleId: 1, authorization: auth }).baseUrl).toBe('https://multiplayeractivity.xboxlive.com');
  });
});

describe('a provider that observes answers (observeResponse)', () => {
  const DATE = 'Thu, 01 Jan 2026 00:10:00 GMT';
  /** A client whose fetch answers with `statuses` in turn, each with a Date header. */
  function scripted(statuses: number[], observe: ((r: ObservedResponse) => boolean | void) | undefined) {
    const seen: ObservedResponse[] = [];
    const refreshes: boolean[] = [];
    const provider = Object.assign(
      (request: { forceRefresh: boolean }) => {
        refreshes.push(request.forceRefresh);
        return { authorization: TOKEN, signature: 'AAAA' };
      },
      observe && { observeResponse: (r: ObservedResponse) => (seen.push(r), observe(r)) },
    );
    let sends = 0;
    const client = new MpaClient({
      titleId: TITLE,
      baseUrl: 'http://127.0.0.1:9',
      authorization: provider,
      fetch: async () => {
        const status = statuses[sends++] ?? 500;
        return new Response(status === 204 ? null : JSON.stringify({ errorCode: 'X', debugMessage: 'scripted' }), { status, headers: { date: DATE } });
      },
    });
    return { client, seen, refreshes, sends: () => sends };
  }

  it("is told every answer's status, Date and Signature; true sends the call once more, signed anew, and never a third time", async () => {
    const { client, seen, refreshes, sends } = scripted([403, 403, 403], (r) => r.status === 403);
    const error = await failure(client.setActivity(XUID, activity(1)));
    expect(error).toMatchObject({ code: 'AUTHORIZATION', status: 403 });
    expect(sends()).toBe(2);
    expect(seen).toEqual([
      { status: 403, date: DATE, signature: 'AAAA' },
      { status: 403, date: DATE, signature: 'AAAA' },
    ]);
    expect(refreshes).toEqual([false, false]); // signed again, not a token refresh
  });

  it('a 401 and a refused timestamp each get their one retry, in either order', async () => {
    const first = scripted([401, 403, 204], (r) => r.status === 403);
    await first.client.setActivity(XUID, activity(1));
    expect(first.sends()).toBe(3);
    expect(first.refreshes).toEqual([false, true, false]);
    const second = scripted([403, 401, 204], (r) => r.status === 403);
    await second.client.setActivity(XUID, activity(1));
    expect(second.sends()).toBe(3);
    expect(second.refreshes).toEqual([false, false, true]);
  });

  it('without observeResponse, or when it says no, a 403 is final', async () => {
    for (const observe of [undefined, () => false]) {
      const { client, sends } = scripted([403, 204], observe);
      expect(await failure(client.setActivity(XUID, activity(1)))).toMatchObject({ status: 403 });
      expect(sends()).toBe(1);
    }
  });

  it('an observeResponse that is not a function is refused at construction; one that throws fails the call as AUTHORIZATION', async () => {
    const provider = Object.assign(() => TOKEN, { observeResponse: 'yes' });
    expect(() => new MpaClient({ titleId: TITLE, authorization: provider as never })).toThrow(MpaValidationError);
    const { client } = scripted([204], () => {
      throw new Error('observer bug');
    });
    expect(await failure(client.setActivity(XUID, activity(1)))).toMatchObject({ code: 'AUTHORIZATION', message: expect.stringMatching(/observeResponse/) });
  });
});
