/**
 * The client survives whatever a caller or a provider throws at it (issue 10, client half):
 * every bad input is a typed error naming the argument, every call ends, nothing secret leaks.
 */
import { describe, expect, it } from 'vitest';
import { MpaAuthorizationError, MpaClient, MpaTransportError, MpaValidationError, type MpaClientOptions } from '../src/index.js';
import { activity, failure } from './helpers.js';

const XUID = '2533274800000001';
const base = { titleId: 1, baseUrl: 'http://127.0.0.1:9', authorization: () => 'XBL3.0 x=1;t' } satisfies MpaClientOptions;

function counting(options: Partial<MpaClientOptions> = {}) {
  let sent = 0;
  const client = new MpaClient({
    ...base,
    fetch: async () => {
      sent++;
      return new Response(null, { status: 204 });
    },
    ...options,
  });
  return { client, sent: () => sent };
}


function refused(options: unknown): MpaValidationError {
  try {
    new MpaClient(options as MpaClientOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(MpaValidationError);
    return error as MpaValidationError;
  }
  throw new Error('expected the options to be refused');
}

describe('the token is fetched under the call’s timeout and signal', () => {
  it('a provider that never resolves times out after timeoutMs, and nothing is sent', async () => {
    const { client, sent } = counting({ authorization: () => new Promise<string>(() => {}), timeoutMs: 50 });
    const error = await failure(client.setActivity(XUID, activity(1)));
    expect(error).toBeInstanceOf(MpaTransportError);
    expect((error as MpaTransportError).reason).toBe('timeout');
    expect(error.message).toMatch(/timed out after 50 ms while getting the authorization token/);
    expect(sent()).toBe(0);
  });

  it('a provider that never resolves ends when the caller aborts', async () => {
    const { client } = counting({ authorization: () => new Promise<string>(() => {}) });
    const controller = new AbortController();
    const call = failure(client.getActivity(XUID, { signal: controller.signal }));
    controller.abort();
    expect((await call as MpaTransportError).reason).toBe('aborted');
  });

  it('the provider receives the signal, the method, the path and the exact body bytes', async () => {
    const seen: unknown[] = [];
    const { client } = counting({ authorization: (r) => (seen.push(r), 'XBL3.0 x=1;t') });
    await client.deleteActivity(XUID, { sequenceNumber: 7 });
    expect(seen[0]).toMatchObject({ forceRefresh: false, method: 'DELETE', pathAndQuery: `/titles/1/users/${XUID}/activities`, xuid: XUID });
    expect(Buffer.from((seen[0] as { body: Uint8Array }).body).toString()).toBe('{"sequenceNumber":"7"}');
    expect((seen[0] as { signal: unknown }).signal).toBeInstanceOf(AbortSignal);
  });
});

describe('header injection', () => {
  it('a token with CR or LF is refused before sending, and the message does not echo it', async () => {
    for (const token of ['XBL3.0 x=1;secret\r\nX-Evil: 1', 'XBL3.0 x=1;secret\nmore', 'XBL3.0 x=1;sec\u0000ret']) {
      const { client, sent } = counting({ authorization: () => token });
      const error = await failure(client.setActivity(XUID, activity(1)));
      expect(error).toBeInstanceOf(MpaAuthorizationError);
      expect(error.message).not.toContain('secret');
      expect(error.message).toMatch(/CR, LF/);
      expect(sent()).toBe(0);
    }
  });

  it('a userAgent or locale with CR or LF is refused at construction, without echoing it', () => {
    const error = refused({ ...base, userAgent: 'game/1.0\r\nX-Evil: sneaky' });
    expect(error.issues[0]!.path).toEqual(['userAgent']);
    expect(error.message).not.toContain('sneaky');
    expect(refused({ ...base, locale: 'en\nUS' }).issues[0]!.path).toEqual(['locale']);
  });
});

describe('millisecond options', () => {
  it.each([2 ** 31, NaN, -1, 0, 1.5, Infinity])('timeoutMs %s is refused at construction and per call', async (ms) => {
    expect(refused({ ...base, timeoutMs: ms }).issues[0]!.path).toEqual(['timeoutMs']);
    const { client, sent } = counting();
    const error = await failure(client.getActivity(XUID, { timeoutMs: ms }));
    expect(error).toBeInstanceOf(MpaValidationError);
    expect((error as MpaValidationError).issues[0]!.path).toEqual(['options', 'timeoutMs']);
    expect(sent()).toBe(0);
  });

  it('retryAfterCapMs above 2^31-1, NaN or negative is refused; 2^31-1 is fine', () => {
    for (const ms of [2 ** 31, NaN, -1]) expect(refused({ ...base, retryAfterCapMs: ms }).issues[0]!.path).toEqual(['retryAfterCapMs']);
    expect(() => new MpaClient({ ...base, retryAfterCapMs: 2 ** 31 - 1, timeoutMs: 2 ** 31 - 1 })).not.toThrow();
  });
});

describe('baseUrl', () => {
  it.each(['https://alice:s3cr3t@example.com', 'https://s3cr3t@example.com', 'https://example.com/?a=1', 'https://example.com/#frag', 'https://example.com/?'])('%s is refused', (url) => {
    const error = refused({ ...base, baseUrl: url });
    expect(error.issues[0]!.path).toEqual(['baseUrl']);
    expect(error.message).not.toContain('s3cr3t');
  });
});

describe('bad arguments become MpaValidationError naming the argument', () => {
  const { client, sent } = counting();
  it.each([
    ['sendServerInvite with invitedUsers a string', () => client.sendServerInvite({ sender: XUID, invitedUsers: 'xuid' as unknown as string[] }), 'invitedUsers'],
    ['sendServerInvite(null)', () => client.sendServerInvite(null as never), 'invite'],
    ['reportRecentPlayerGroups(null)', () => client.reportRecentPlayerGroups(null as never), 'recentPlayerGroups'],
    ['per-call options null', () => client.getActivity(XUID, null as never), 'options'],
    ["per-call options { signal: 'x' }", () => client.getActivity(XUID, { signal: 'x' as never }), 'signal'],
    ['per-call options with a misspelt timeoutMs', () => client.getActivity(XUID, { timeout: 5 } as never), 'timeout'],
    ['DELETE options with an unknown key', () => client.deleteActivity(XUID, { sequenceNumber: 1 }, { timeout: 5 } as never), 'timeout'],
    ['queryActivities(null)', () => client.queryActivities(null as never), 'users'],
  ])('%s', async (_name, call, named) => {
    const error = await failure(call());
    expect(error).toBeInstanceOf(MpaValidationError);
    expect(error.message).toContain(named);
    expect(sent()).toBe(0);
  });

  it('MpaClient options that are not an object, or hold a non-function fetch, are refused', () => {
    expect(refused(null)).toBeInstanceOf(MpaValidationError);
    expect(refused({ ...base, fetch: 'fetch' }).issues[0]!.path).toEqual(['fetch']);
  });
});

it('a malformed JSON answer says the body is not JSON', async () => {
  const client = new MpaClient({ ...base, fetch: async () => new Response('{"connectionString": ', { status: 200, headers: { 'content-type': 'application/json' } }) });
  const error = await failure(client.getActivity(XUID));
  expect(error).toBeInstanceOf(MpaTransportError);
  expect((error as MpaTransportError).reason).toBe('body');
  expect(error.message).toMatch(/body of answer 200 is not JSON/);
});
