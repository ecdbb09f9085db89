/**
 * The emulator's JSON inspection routes over HTTP, as a test harness in any language reads
 * them, and who may read them.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator, type StartEmulatorOptions } from '../src/emulator/index.js';
import { TITLE, TOKEN } from './helpers.js';

const A = '2533274800000001';
const B = '2533274800000002';
const running: Emulator[] = [];

async function emulator(options: StartEmulatorOptions = {}): Promise<Emulator> {
  const e = await startEmulator({ port: 0, host: '127.0.0.1', ...options });
  running.push(e);
  return e;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
});

let sequence = 1;
async function put(e: Emulator, xuid: string, body: Record<string, unknown>): Promise<number> {
  const r = await fetch(`${e.url}/titles/${TITLE}/users/${xuid}/activities`, {
    method: 'PUT',
    headers: { authorization: TOKEN, 'content-type': 'application/json' },
    body: JSON.stringify({ connectionString: '203.0.113.7:7777', joinRestriction: 'Followed', sequenceNumber: String(sequence++), ...body }),
  });
  return r.status;
}

async function getJson(e: Emulator, path: string): Promise<{ status: number; body: any }> {
  const r = await fetch(`${e.url}${path}`);
  return { status: r.status, body: await r.json() };
}

/** A raw request through node:http, to set headers fetch will not (Host). */
function raw(url: string, path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('GET /_emulator/activities', () => {
  it('shows every live activity with the line a friend reads and whether they could join', async () => {
    const e = await emulator();
    await put(e, A, { currentPlayers: 5, maxPlayers: 8, groupId: 'm1' });
    await put(e, B, { currentPlayers: 8, maxPlayers: 8, groupId: 'm1', joinRestriction: 'Public' });
    await put(e, '2533274800000003', { currentPlayers: 2, maxPlayers: 8, groupId: 'm2', joinRestriction: 'InviteOnly' });
    await put(e, '2533274800000004', { currentPlayers: 2, maxPlayers: 8, groupId: 'm2', joinRestriction: 'Public' });
    const { status, body } = await getJson(e, '/_emulator/activities');
    expect(status).toBe(200);
    expect(body.activities.map((a: any) => [a.xuid, a.presence])).toEqual([
      [A, { text: 'In a match · 5/8 · Joinable by followers', joinable: true }],
      [B, { text: 'In a match · 8/8 · Full', joinable: false, blockedBy: 'full' }],
      ['2533274800000003', { text: 'In a match · 2/8 · Invite only', joinable: false, blockedBy: 'invite-only' }],
      ['2533274800000004', { text: 'In a match · 2/8 · Joinable by anyone', joinable: true }],
    ]);
    expect(body.activities[0]).toMatchObject({ titleId: TITLE, connectionString: '203.0.113.7:7777', groupId: 'm1', currentPlayers: 5, maxPlayers: 8 });
  });

  it('forgets a deleted activity', async () => {
    const e = await emulator();
    await put(e, A, { currentPlayers: 1, maxPlayers: 8 });
    await fetch(`${e.url}/titles/${TITLE}/users/${A}/activities`, { method: 'DELETE', headers: { authorization: TOKEN }, body: JSON.stringify({ sequenceNumber: String(sequence++) }) });
    expect((await getJson(e, '/_emulator/activities')).body.activities).toEqual([]);
  });

  it('answers one player by xuid, 404 with the documented body when they have none, 400 for a bad xuid', async () => {
    const e = await emulator();
    await put(e, A, { currentPlayers: 3, maxPlayers: 4 });
    expect(await getJson(e, `/_emulator/activities/${A}`)).toMatchObject({ status: 200, body: { xuid: A, presence: { text: 'In a match · 3/4 · Joinable by followers' } } });
    expect(await getJson(e, `/_emulator/activities/${A}?titleId=${TITLE + 1}`)).toMatchObject({ status: 404, body: { errorCode: 'NotFound' } });
    expect(await getJson(e, `/_emulator/activities/${B}`)).toEqual({ status: 404, body: { errorCode: 'NotFound', debugMessage: `no live activity for ${B}` } });
    expect(await getJson(e, '/_emulator/activities/not-a-user')).toMatchObject({ status: 400, body: { debugMessage: expect.stringMatching(/^xuid:/) } });
  });
});

describe('GET /_emulator/requests', () => {
  it('lists requests oldest first with ids; since= gives only newer ones', async () => {
    const e = await emulator();
    await put(e, A, { currentPlayers: 1, maxPlayers: 8 });
    await put(e, B, { currentPlayers: 2, maxPlayers: 8 });
    const first = (await getJson(e, '/_emulator/requests')).body;
    expect(first.requests.map((r: any) => [r.method, r.xuid, r.status, r.outcome, r.detail])).toEqual([
      ['PUT', A, 204, 'ok', '1/8 Followed'],
      ['PUT', B, 204, 'ok', '2/8 Followed'],
    ]);
    expect(first.last).toBe(first.requests[1].id);
    await put(e, A, { currentPlayers: 3, maxPlayers: 8 });
    const next = (await getJson(e, `/_emulator/requests?since=${first.last}`)).body;
    expect(next.requests.map((r: any) => r.detail)).toEqual(['3/8 Followed']);
    expect(next.requests[0].id).toBeGreaterThan(first.last);
    expect((await getJson(e, `/_emulator/requests?since=${next.last}`)).body.requests).toEqual([]);
    expect((await getJson(e, '/_emulator/requests?limit=1')).body.requests.map((r: any) => r.detail)).toEqual(['3/8 Followed']);
  });

  it('marks rate-limit throttles and injected faults, with Retry-After in ms', async () => {
    const e = await emulator({ rateLimits: { write: { burst: 1 } } });
    await put(e, A, {});
    expect(await put(e, A, {})).toBe(429); // the burst window is full
    e.failNext('500');
    await put(e, B, {});
    e.failNext('429', 1, 4);
    await put(e, B, {});
    const { requests, totals } = (await getJson(e, '/_emulator/requests')).body;
    expect(totals).toMatchObject({ requests: 4, throttled: 2, faults: 2, byMethod: { PUT: 4 }, byStatus: { 204: 1, 429: 2, 500: 1 } });
    expect(requests.map((r: any) => [r.xuid, r.status, r.outcome, r.fault, r.retryAfterMs])).toEqual([
      [A, 204, 'ok', undefined, undefined],
      [A, 429, 'throttled', undefined, 15_000],
      [B, 500, 'fault', '500', undefined],
      [B, 429, 'throttled', '429', 4_000],
    ]);
  });

  it('refuses a bad cursor or limit with a message naming it', async () => {
    const e = await emulator();
    expect(await getJson(e, '/_emulator/requests?since=abc')).toMatchObject({ status: 400, body: { debugMessage: expect.stringMatching(/^since:/) } });
    expect(await getJson(e, '/_emulator/requests?limit=0')).toMatchObject({ status: 400, body: { debugMessage: expect.stringMatching(/^limit:/) } });
  });
});

describe('GET /_emulator/budgets', () => {
  it('shows each player burst and sustain windows used / allowed, full windows, and who is throttled now', async () => {
    const e = await emulator({ rateLimits: { write: { burst: 2, sustain: 5 } } });
    await put(e, A, {});
    await put(e, A, {});
    await put(e, A, {}); // refused: burst full
    await put(e, B, {});
    const { body } = await getJson(e, '/_emulator/budgets');
    expect(body.limits).toMatchObject({ burstWindowMs: 15_000, sustainWindowMs: 300_000, write: { burst: 2, sustain: 5 } });
    const byXuid = Object.fromEntries(body.players.map((p: any) => [p.xuid, p]));
    // The refused request counts in the sustain window, not in the burst window (as the service does).
    expect(byXuid[A].categories.write).toEqual({ burst: { used: 2, allowed: 2, windowMs: 15_000 }, sustain: { used: 3, allowed: 5, windowMs: 300_000 } });
    expect(byXuid[A].full).toEqual(['write burst']);
    expect(byXuid[A].throttledUntil).toBeGreaterThan(body.now);
    expect(byXuid[B]).toMatchObject({ categories: { write: { burst: { used: 1 } } }, full: [] });
    expect(byXuid[B].throttledUntil).toBeUndefined();
    expect(body.throttledNow).toEqual([{ xuid: A, until: byXuid[A].throttledUntil, status: 429 }]);
  });

  it('lists a player told to wait by an injected 429 even when nothing was counted for them', async () => {
    const e = await emulator();
    e.failNext('429', 1, 30);
    await put(e, A, {});
    const { body } = await getJson(e, '/_emulator/budgets');
    expect(body.throttledNow).toMatchObject([{ xuid: A, status: 429 }]);
    expect(body.players).toMatchObject([{ xuid: A, categories: {}, throttledUntil: body.throttledNow[0].until }]);
  });

  it('says when rate limits are off', async () => {
    const e = await emulator({ rateLimits: false });
    await put(e, A, {});
    expect((await getJson(e, '/_emulator/budgets')).body).toMatchObject({ limits: null, players: [] });
  });
});

describe('POST /_emulator/faults', () => {
  const post = (e: Emulator, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    raw(e.url, '/_emulator/faults', { method: 'POST', headers, body });

  it('queues the next faults like emulator.failNext, and they are served in order', async () => {
    const e = await emulator();
    const r = await post(e, JSON.stringify({ kind: '429', retryAfterSeconds: 9 }));
    expect(r.status).toBe(202);
    expect(JSON.parse(r.body)).toEqual({ pending: [{ kind: '429', retryAfterSeconds: 9 }] });
    await post(e, JSON.stringify({ kind: '500', count: 2 }));
    expect((await getJson(e, '/_emulator/faults')).body.pending.map((f: any) => f.kind)).toEqual(['429', '500', '500']);
    const throttled = await fetch(`${e.url}/titles/${TITLE}/users/${A}/activities`, { headers: { authorization: TOKEN } });
    expect([throttled.status, throttled.headers.get('retry-after')]).toEqual([429, '9']);
  });

  it('refuses bad input with a 400 naming the field, and queues nothing', async () => {
    const e = await emulator();
    for (const [body, field] of [
      ['{"kind":"418"}', 'kind'],
      ['{"kind":"429","retryAfterSeconds":-1}', 'retryAfterSeconds'],
      ['{"kind":"500","count":0}', 'count'],
      ['{"kind":"500","typo":1}', 'body'],
      ['not json', 'body'],
    ] as const) {
      const r = await post(e, body);
      expect(r.status, body).toBe(400);
      expect(JSON.parse(r.body)).toMatchObject({ errorCode: 'RequestValidationError', debugMessage: expect.stringMatching(new RegExp(`^${field}`)) });
    }
    expect(e.core.pendingFaults()).toEqual([]);
  });

  it('survives a client that hangs up halfway through its body', async () => {
    const e = await emulator();
    const failures: unknown[] = [];
    const trap = (error: unknown) => failures.push(error);
    process.on('unhandledRejection', trap);
    process.on('uncaughtException', trap);
    try {
      await new Promise<void>((resolve) => {
        const req = request(`${e.url}/_emulator/faults`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '1000' } });
        req.on('error', () => resolve());
        req.write('{"kind":"5', () => setTimeout(() => req.destroy(), 20));
        req.on('close', () => resolve());
      });
      await new Promise((r) => setTimeout(r, 50));
      expect((await getJson(e, '/_emulator/faults')).body).toEqual({ pending: [] });
      expect(failures).toEqual([]);
    } finally {
      process.off('unhandledRejection', trap);
      process.off('uncaughtException', trap);
    }
  });

  it('refuses what a web page on another site could send: a form post, a cross-origin request, a huge body', async () => {
    const e = await emulator();
    expect((await post(e, 'kind=500', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415);
    expect((await post(e, '{"kind":"500"}', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post(e, '{"kind":"500"}', { 'content-type': 'application/json', origin: 'http://evil.example' })).status).toBe(403);
    expect((await post(e, JSON.stringify({ kind: '500', pad: 'x'.repeat(10_000) }))).status).toBe(413);
    expect(e.core.pendingFaults()).toEqual([]);
  });
});

describe('the live page and who may see it', () => {
  it('serves the page at / with a policy that lets only its own script run', async () => {
    const e = await emulator();
    const page = await raw(e.url, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).toContain('<script src="/_emulator/ui.js"></script>');
    expect((await raw(e.url, '/_emulator/ui.js')).headers['content-type']).toMatch(/^text\/javascript/);
    expect((await raw(e.url, '/_emulator/ui.css')).headers['content-type']).toMatch(/^text\/css/);
    expect(e.pageUrl).toBe(`${e.url}/`);
  });

  it('lists its routes at /_emulator', async () => {
    const e = await emulator();
    expect((await getJson(e, '/_emulator')).body.routes).toContain('GET /_emulator/budgets');
  });

  it('answers 404 to a request addressed to another host name (DNS rebinding), unless ui: true', async () => {
    const e = await emulator();
    for (const path of ['/', '/_emulator/activities']) {
      expect((await raw(e.url, path, { headers: { host: 'attacker.example:80' } })).status).toBe(404);
      expect((await raw(e.url, path, { headers: { host: `localhost:${e.port}` } })).status).toBe(200);
    }
    const open = await emulator({ ui: true });
    expect((await raw(open.url, '/_emulator/activities', { headers: { host: 'game-ci.internal:8787' } })).status).toBe(200);
  });

  it('is not served at all with ui: false; the emulated service still is', async () => {
    const e = await emulator({ ui: false });
    expect(e.pageUrl).toBeUndefined();
    for (const path of ['/', '/_emulator/activities', '/_emulator/budgets', '/_emulator/ui.js']) expect((await raw(e.url, path)).status).toBe(404);
    expect((await raw(e.url, '/_emulator/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"kind":"500"}' })).status).toBe(404);
    expect(e.core.pendingFaults()).toEqual([]);
    expect(await put(e, A, {})).toBe(204);
  });

  it('bound to every interface, answers 404 unless ui: true', async () => {
    // Listens on 0.0.0.0 but is only ever contacted over 127.0.0.1.
    const hidden = await emulator({ host: '0.0.0.0' });
    const local = `http://127.0.0.1:${hidden.port}`;
    expect(hidden.pageUrl).toBeUndefined();
    for (const path of ['/', '/_emulator/activities', `/_emulator/activities/${A}`, '/_emulator/requests', '/_emulator/budgets', '/_emulator/faults']) {
      expect((await raw(local, path)).status, path).toBe(404);
    }
    const shown = await emulator({ host: '0.0.0.0', ui: true });
    expect(shown.pageUrl).toBe(`${shown.url}/`);
    expect((await raw(`http://127.0.0.1:${shown.port}`, '/')).status).toBe(200);
  });
});

describe('`mpa-sync emulator` prints the page', () => {
  const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
  const firstLines = (args: string[]) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [cli, 'emulator', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (/live page: .*\n/.test(out)) {
          child.kill('SIGTERM');
          resolve(out);
        }
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
    });

  it('on loopback: the URL of the live page', { timeout: 20_000 }, async () => {
    const out = await firstLines(['--host', '127.0.0.1']);
    expect(out).toMatch(/^live page: http:\/\/127\.0\.0\.1:\d+\/$/m);
  });

  it('elsewhere: off, unless --ui', { timeout: 20_000 }, async () => {
    expect(await firstLines(['--host', '0.0.0.0'])).toMatch(/^live page: off \(not on loopback; pass --ui to serve it\)$/m);
    expect(await firstLines(['--host', '0.0.0.0', '--ui'])).toMatch(/^live page: http:\/\/0\.0\.0\.0:\d+\/$/m);
  });
});
