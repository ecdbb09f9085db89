/**
 * The emulator on a real loopback socket survives whatever a client or a caller throws at it:
 * every request ends in a documented answer or a dropped connection, never in a crash.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MpaUsageError, MpaValidationError } from '../src/errors.js';
import { startEmulator, type Emulator } from '../src/emulator/index.js';
import { head, rawRequest } from './raw-http.js';
import { TITLE, TOKEN } from './helpers.js';

const XUID = '2533274800000001';
const activityPath = `/titles/${TITLE}/users/${XUID}/activities`;
const putBody = JSON.stringify({ connectionString: 'c', joinRestriction: 'Public', sequenceNumber: '1' });

// The host process must survive: a crash here is an unhandled rejection or an uncaught
// exception, so both are trapped and every test fails if one was seen.
const crashes: unknown[] = [];
const trap = (error: unknown) => crashes.push(error);
beforeAll(() => {
  process.on('unhandledRejection', trap);
  process.on('uncaughtException', trap);
});
afterAll(() => {
  process.off('unhandledRejection', trap);
  process.off('uncaughtException', trap);
});

let emulator: Emulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
  await new Promise((r) => setTimeout(r, 20));
  expect(crashes).toEqual([]);
});

const serves = async (e: Emulator) => (await fetch(e.url + activityPath, { headers: { authorization: TOKEN } })).status;

describe('emulator over HTTP: bad input gets the documented answer', () => {
  it('a bad percent-escape in the path is a 400 RequestValidationError, not a crash', async () => {
    emulator = await startEmulator();
    const answer = await rawRequest(emulator.port, { parts: [head('GET', `/titles/${TITLE}/users/%ZZ/activities`, { authorization: TOKEN })] });
    expect(answer.status).toBe(400);
    expect(answer.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(answer.body)).toMatchObject({ errorCode: 'RequestValidationError', debugMessage: expect.stringMatching(/xuid/) });
    expect(await serves(emulator)).toBe(204);
  });

  it('an exception inside the service logic is a 500 with the documented body', async () => {
    emulator = await startEmulator();
    emulator.core.handle = () => Promise.reject(new Error('boom'));
    const res = await fetch(emulator.url + activityPath, { headers: { authorization: TOKEN } });
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ errorCode: 'InternalServerError', debugMessage: expect.any(String) });
    expect(emulator.core.counters.byStatus[500]).toBe(1);
  });

  it('CONNECT, which node keeps from the request handler, gets a JSON 405', async () => {
    emulator = await startEmulator();
    const answer = await rawRequest(emulator.port, { parts: [head('CONNECT', '127.0.0.1:443')] });
    expect(answer.status).toBe(405);
    expect(JSON.parse(answer.body)).toMatchObject({ errorCode: 'MethodNotAllowed' });
    expect(await serves(emulator)).toBe(204);
  });

  it('malformed HTTP gets a JSON 400 and the emulator keeps serving', async () => {
    emulator = await startEmulator();
    const answer = await rawRequest(emulator.port, { parts: ['NOT HTTP AT ALL\r\n\r\n'] });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ errorCode: 'BadRequest' });
    expect(await serves(emulator)).toBe(204);
  });
});

describe('emulator over HTTP: activity bodies', () => {
  const put = (body: string) =>
    fetch(`${emulator!.url}${activityPath}`, { method: 'PUT', headers: { authorization: TOKEN }, body }).then(async (r) => [r.status, r.status === 204 ? undefined : await r.json()]);

  it('answers a malformed PUT body with the documented 400 naming the field, and accepts the SDK spelling of a platform', async () => {
    emulator = await startEmulator({ rateLimits: false });
    expect(await put(JSON.stringify({ connectionString: '', joinRestriction: 'Public', sequenceNumber: '1' }))).toEqual([400, { errorCode: 'RequestValidationError', debugMessage: 'connectionString: connectionString must not be empty' }]);
    expect(await put(JSON.stringify({ connectionString: 'c', joinRestriction: 'Public', sequenceNumber: '1', maxPlayers: 1 }))).toEqual([
      400,
      { errorCode: 'RequestValidationError', debugMessage: 'maxPlayers: maxPlayers must be at least 2 (greater than 1)' },
    ]);
    expect(await put(JSON.stringify({ connectionString: 'c', joinRestriction: 'Public', sequenceNumber: '2', platform: 'iOS' }))).toEqual([204, undefined]);
    expect(emulator.activity(XUID)?.platform).toBe('IOS');
  });

  it('reads any form of JSON a client sends: whitespace, escapes, keys in any order', async () => {
    emulator = await startEmulator({ rateLimits: false });
    expect(await put('{ "connectionString": "a\\u0041", "joinRestriction": "Public", "sequenceNumber": "1" }')).toEqual([204, undefined]);
    expect(emulator.activity(XUID)?.connectionString).toBe('aA');
    expect((await put('{"connectionString":"b","joinRestriction":"Public","sequenceNumber":"2","maxPlayers":1}'))[0]).toBe(400);
    expect(await put('{"maxPlayers":4,"sequenceNumber":3,"currentPlayers":2,\n"joinRestriction":"Public","connectionString":"c"}')).toEqual([204, undefined]);
    expect(emulator.activity(XUID)).toMatchObject({ connectionString: 'c', sequenceNumber: '3', currentPlayers: 2, maxPlayers: 4 });
  });
});

describe('emulator over HTTP: requests cut short or oversized heads', () => {
  it('a request cut off before its declared end (the client half-closes) gets a JSON 400', async () => {
    emulator = await startEmulator();
    const answer = await rawRequest(emulator.port, { parts: [head('PUT', activityPath, { authorization: TOKEN, 'content-length': 100 }), '{"connectionString":'], then: 'end' });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ errorCode: 'BadRequest' });
  });

  it('headers past node\'s 16 KiB limit get a JSON 431', async () => {
    emulator = await startEmulator();
    const answer = await rawRequest(emulator.port, { parts: [head('GET', activityPath, { authorization: TOKEN, 'x-padding': 'p'.repeat(20_000) })] });
    expect(answer.status).toBe(431);
    expect(JSON.parse(answer.body)).toMatchObject({ errorCode: 'RequestHeaderFieldsTooLarge' });
    expect(await serves(emulator)).toBe(204);
  });
});

describe('emulator over HTTP: body limit', () => {
  it('a body past maxBodyBytes is a 413 with the documented body, whether its length is declared or not', async () => {
    emulator = await startEmulator({ maxBodyBytes: 1024 });
    const big = 'x'.repeat(2000);
    const declared = await rawRequest(emulator.port, { parts: [head('PUT', activityPath, { authorization: TOKEN, 'content-length': big.length }), big] });
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body)).toMatchObject({ errorCode: 'RequestEntityTooLarge', debugMessage: expect.stringMatching(/1024/) });
    const chunked = await rawRequest(emulator.port, {
      parts: [head('PUT', activityPath, { authorization: TOKEN, 'transfer-encoding': 'chunked' }), `${(600).toString(16)}\r\n${'y'.repeat(600)}\r\n`, 20, `${(600).toString(16)}\r\n${'y'.repeat(600)}\r\n`],
    });
    expect(chunked.status).toBe(413);
    expect(emulator.core.counters.byStatus[413]).toBe(2);
    // A body at the limit is read and served.
    const fits = await fetch(emulator.url + activityPath, { method: 'PUT', headers: { authorization: TOKEN, 'content-type': 'application/json' }, body: putBody.padEnd(1024, ' ') });
    expect(fits.status).toBe(204);
  });

  it('emulator.fetch (in-process) has the same limit: 413 past it, served at it', async () => {
    emulator = await startEmulator({ maxBodyBytes: 1024 });
    const init = (body: string) => ({ method: 'PUT', headers: { authorization: TOKEN, 'content-type': 'application/json' }, body });
    const over = await emulator.fetch(emulator.url + activityPath, init(putBody.padEnd(1025, ' ')));
    expect(over.status).toBe(413);
    expect(await over.json()).toMatchObject({ errorCode: 'RequestEntityTooLarge' });
    expect((await emulator.fetch(emulator.url + activityPath, init(putBody.padEnd(1024, ' ')))).status).toBe(204);
    expect(emulator.core.log.map((r) => r.status)).toEqual([413, 204]);
  });

  it('stops reading at the cap: a huge streamed body is cut off, not buffered', async () => {
    emulator = await startEmulator({ maxBodyBytes: 64 * 1024 });
    const megabyte = Buffer.alloc(1 << 20, 'z');
    const heapBefore = process.memoryUsage().heapUsed;
    // 200 MB offered in 1 MB chunks of unannounced total length; the server answers 413 and
    // closes long before.
    const parts: (Buffer | string | number)[] = [head('PUT', activityPath, { authorization: TOKEN, 'transfer-encoding': 'chunked' })];
    for (let i = 0; i < 200; i++) parts.push(`100000\r\n`, megabyte, '\r\n', 1);
    const started = Date.now();
    const answer = await rawRequest(emulator.port, { parts, timeoutMs: 10_000 });
    expect(answer.status).toBe(413);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(50 * (1 << 20));
    expect(await serves(emulator)).toBe(204);
  });

  it('refuses a nonsensical limit or timeout with a typed error naming the option', async () => {
    await expect(startEmulator({ maxBodyBytes: -1 })).rejects.toThrow(MpaValidationError);
    await expect(startEmulator({ maxBodyBytes: Number.NaN })).rejects.toThrow(/maxBodyBytes/);
    await expect(startEmulator({ headersTimeoutMs: 2 ** 31 })).rejects.toThrow(/headersTimeoutMs/);
    await expect(startEmulator({ logSize: 1.5 })).rejects.toThrow(/logSize/);
  });
});

describe('emulator over HTTP: a port it cannot listen on', () => {
  it('is a USAGE error naming the address and the system code, and leaves nothing listening', async () => {
    emulator = await startEmulator();
    const taken = emulator.port;
    const second = await startEmulator({ port: taken }).catch((error: unknown) => error);
    expect(second).toBeInstanceOf(MpaUsageError);
    expect(second).toMatchObject({ code: 'USAGE', message: `startEmulator: cannot listen on 127.0.0.1:${taken} (EADDRINUSE)` });
    // With s2s too (its token endpoints, started first, are closed again before the error).
    const withS2s = await startEmulator({ port: taken, s2s: true }).catch((error: unknown) => error);
    expect(withS2s).toBeInstanceOf(MpaUsageError);
    expect(await serves(emulator)).toBe(204);
  });
});

describe('emulator over HTTP: clients that vanish, and close()', () => {
  it('a client that disconnects while sending a body leaves the host process running', async () => {
    emulator = await startEmulator();
    for (let i = 0; i < 5; i++) {
      const answer = await rawRequest(emulator.port, { parts: [head('PUT', activityPath, { authorization: TOKEN, 'content-length': 500 }), '{"connectionString":', 10], then: 'destroy' });
      expect(answer.status).toBeUndefined();
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(await serves(emulator)).toBe(204);
  });

  it('close() while a body is arriving resolves promptly and the host process survives', async () => {
    emulator = await startEmulator();
    const pending = rawRequest(emulator.port, { parts: [head('PUT', activityPath, { authorization: TOKEN, 'content-length': 500 }), '{"connectionString":', 2000] });
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await emulator.close();
    expect(Date.now() - started).toBeLessThan(500);
    expect((await pending).status).toBeUndefined();
  });

  it('close() resolves promptly with hung requests and latency timers pending, and leaves no timers behind', async () => {
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    emulator = await startEmulator({ latencyMs: 60_000 });
    const slow = fetch(emulator.url + activityPath, { headers: { authorization: TOKEN } }).then(
      (r) => r.status,
      () => 'dropped',
    );
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await emulator.close();
    await emulator.close(); // twice is fine
    expect(Date.now() - started).toBeLessThan(500);
    expect(await slow).toBe('dropped');
    await new Promise((r) => setTimeout(r, 20));
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(timersBefore);
  });
});

describe('emulator over HTTP: latency', () => {
  it('twenty requests waiting out latencyMs at once are all answered, with no listener-leak warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      emulator = await startEmulator({ latencyMs: 50, rateLimits: false });
      const statuses = await Promise.all(Array.from({ length: 20 }, () => serves(emulator!)));
      expect(statuses).toEqual(Array(20).fill(204));
      expect(emulator.core.counters.maxConcurrentPerUser).toBeGreaterThan(1);
      await new Promise((r) => setTimeout(r, 20));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('emulator over HTTP: timeouts', () => {
  it('a client that never finishes its headers is cut off after headersTimeoutMs', async () => {
    emulator = await startEmulator({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const started = Date.now();
    const answer = await rawRequest(emulator.port, { parts: [`GET ${activityPath} HTTP/1.1\r\nhost: x\r\n`], timeoutMs: 5000 });
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(waited).toBeLessThan(3000);
    expect(answer.status).toBe(408);
  });

  it('a client that trickles its body is cut off after requestTimeoutMs', async () => {
    emulator = await startEmulator({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const started = Date.now();
    const parts: (string | number)[] = [head('PUT', activityPath, { authorization: TOKEN, 'content-length': 100 })];
    for (let i = 0; i < 50; i++) parts.push('x', 100);
    const answer = await rawRequest(emulator.port, { parts, timeoutMs: 8000 });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(answer.status).toBe(408);
    expect(JSON.parse(answer.body)).toMatchObject({ errorCode: 'RequestTimeout' });
    expect(await serves(emulator)).toBe(204);
  });
});

describe('emulator over HTTP: inspection', () => {
  it('GET /_emulator/health answers the process memory without counting as a request', async () => {
    emulator = await startEmulator();
    const res = await fetch(`${emulator.url}/_emulator/health`);
    expect(res.status).toBe(200);
    const health = (await res.json()) as { status: string; memory: { heapUsed: number; rss: number }; requests: number };
    expect(health.status).toBe('ok');
    expect(health.memory.heapUsed).toBeGreaterThan(0);
    expect(health.memory.rss).toBeGreaterThan(0);
    expect(emulator.core.counters.requests).toBe(0);
  });
});
