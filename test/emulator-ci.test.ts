/**
 * The emulator as a CI script drives it: where it listens (never on every interface by
 * accident), where the S2S token endpoints are (a fixed port, the emulator's host, reported on
 * an inspection route), and what a refused call tells the client (every 401 carries
 * `WWW-Authenticate`, as HTTP requires; an expired token says so).
 */
import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MpaClient, MpaUsageError, MpaValidationError, xboxServiceAuth } from '../src/index.js';
import { EmulatorCore, startEmulator, type Emulator } from '../src/emulator/index.js';
import { createTestAuthority } from '../src/emulator/s2s-certs.js';
import { activity, TITLE, TOKEN } from './helpers.js';

const XUID = '2533274800000001';
const CHALLENGE = 'XBL3.0 realm="xboxlive.com"';
let emulators: Emulator[] = [];
afterEach(async () => {
  await Promise.all(emulators.map((e) => e.close()));
  emulators = [];
});

async function started(options: Parameters<typeof startEmulator>[0]): Promise<Emulator> {
  const emulator = await startEmulator(options);
  emulators.push(emulator);
  return emulator;
}

/** A port nothing listens on right now (the kernel's pick, released again). */
async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether something accepts connections on host:port. */
async function listening(port: number, host = '127.0.0.1'): Promise<boolean> {
  const probe = createServer();
  return new Promise((resolve) => {
    probe.once('error', () => resolve(true));
    probe.listen(port, host, () => probe.close(() => resolve(false)));
  });
}

async function refusal(start: Promise<unknown>): Promise<Error> {
  const outcome = await start.then(
    (emulator) => {
      emulators.push(emulator as Emulator);
      return undefined;
    },
    (error: unknown) => error as Error,
  );
  if (!outcome) throw new Error('startEmulator started where it should have refused');
  return outcome;
}

describe('the host an emulator listens on', () => {
  it.each([[''], ['   ']])('refuses an empty host (%j), which would listen on every interface, with a USAGE error', async (host) => {
    const error = await refusal(startEmulator({ host, port: 0 }));
    expect(error).toBeInstanceOf(MpaUsageError);
    expect(error.message).toMatch(/host is empty.*every interface.*0\.0\.0\.0/);
  });

  it('refuses an empty host before the S2S token endpoints start', async () => {
    const tokenPort = await freePort();
    const error = await refusal(startEmulator({ host: '', port: 0, s2s: { tokenPort } }));
    expect(error).toBeInstanceOf(MpaUsageError);
    expect(await listening(tokenPort)).toBe(false);
  });

  it('still listens on every interface when asked by name (0.0.0.0), as in a container', async () => {
    const emulator = await started({ host: '0.0.0.0', port: 0 });
    expect(emulator.url).toBe(`http://0.0.0.0:${emulator.port}`);
  });
});

describe('the S2S token endpoints', () => {
  it('listen on a fixed port when given one (s2s.tokenPort)', async () => {
    const tokenPort = await freePort();
    const emulator = await started({ port: 0, s2s: { tokenPort } });
    expect(emulator.s2s!.serviceAuthUrl).toBe(`https://127.0.0.1:${tokenPort}/service/authenticate`);
    expect(emulator.s2s!.xstsUrl).toBe(`https://127.0.0.1:${tokenPort}/xsts/authorize`);
    await emulator.close();
    expect(await listening(tokenPort)).toBe(false); // closed with the emulator
  });

  it('a token port in use is a USAGE error naming the address, and leaves nothing listening', async () => {
    const first = await started({ port: 0, s2s: true });
    const taken = Number(new URL(first.s2s!.serviceAuthUrl).port);
    const port = await freePort();
    const error = await refusal(startEmulator({ port, s2s: { tokenPort: taken } }));
    expect(error).toBeInstanceOf(MpaUsageError);
    expect(error.message).toBe(`startEmulator: the S2S token endpoints cannot listen on 127.0.0.1:${taken} (EADDRINUSE)`);
    expect(await listening(port)).toBe(false);
  });

  it.each([[-1], [65_536], [1.5], ['8788']])('refuses tokenPort %j, naming s2s.tokenPort', async (tokenPort) => {
    const error = await refusal(startEmulator({ port: 0, s2s: { tokenPort: tokenPort as number } }));
    expect(error).toBeInstanceOf(MpaValidationError);
    expect((error as MpaValidationError).issues[0]!.path).toEqual(['s2s', 'tokenPort']);
  });

  it("listen on the emulator's host, whose address the test certificate names: a signed round trip on 127.0.0.2", async () => {
    const emulator = await started({ host: '127.0.0.2', port: 0, s2s: true });
    expect(emulator.url).toMatch(/^http:\/\/127\.0\.0\.2:/);
    expect(emulator.s2s!.serviceAuthUrl).toMatch(/^https:\/\/127\.0\.0\.2:\d+\/service\/authenticate$/);
    expect(emulator.s2s!.xstsUrl).toMatch(/^https:\/\/127\.0\.0\.2:\d+\/xsts\/authorize$/);
    const client = new MpaClient({ titleId: TITLE, baseUrl: emulator.url, authorization: xboxServiceAuth(emulator.s2s!) });
    await client.setActivity(XUID, activity(1));
    expect(emulator.activity(XUID)).toMatchObject({ connectionString: activity(1).connectionString });
  });

  it('listen on every interface with the emulator when it is bound to 0.0.0.0', async () => {
    const emulator = await started({ host: '0.0.0.0', port: 0, s2s: true });
    expect(emulator.s2s!.serviceAuthUrl).toMatch(/^https:\/\/0\.0\.0\.0:\d+\/service\/authenticate$/);
    // Reached over loopback (the only address a test contacts), which the certificate names.
    const port = new URL(emulator.s2s!.serviceAuthUrl).port;
    const auth = xboxServiceAuth({ ...emulator.s2s!, serviceAuthUrl: `https://127.0.0.1:${port}/service/authenticate`, xstsUrl: `https://127.0.0.1:${port}/xsts/authorize` });
    const client = new MpaClient({ titleId: TITLE, baseUrl: `http://127.0.0.1:${emulator.port}`, authorization: auth });
    await client.setActivity(XUID, activity(1));
    expect(emulator.activity(XUID)).toBeDefined();
  });

  it('have a certificate naming loopback and every address or name they are reached by', () => {
    const { cert } = createTestAuthority().serverCertificate(['10.1.2.3', 'fe80::1', '2001:db8::ffff:10.0.0.1', '::', 'Build-Agent', 'localhost']);
    expect(new X509Certificate(cert).subjectAltName).toBe(
      'IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:localhost, IP Address:10.1.2.3, IP Address:FE80:0:0:0:0:0:0:1, IP Address:2001:DB8:0:0:0:FFFF:A00:1, IP Address:0:0:0:0:0:0:0:0, DNS:build-agent',
    );
  });

  it('are reported on GET /_emulator/s2s and in the GET /_emulator index, without the key', async () => {
    const emulator = await started({ port: 0, s2s: { sandboxId: 'XDKS.1' } });
    const answer = await fetch(`${emulator.url}/_emulator/s2s`);
    expect(answer.status).toBe(200);
    const text = await answer.text();
    expect(text).not.toMatch(/PRIVATE KEY|CERTIFICATE/);
    expect(JSON.parse(text)).toEqual({
      serviceAuthUrl: emulator.s2s!.serviceAuthUrl,
      xstsUrl: emulator.s2s!.xstsUrl,
      sandboxId: 'XDKS.1',
      issued: { serviceTokens: 0, xstsTokens: 0 },
    });
    const index = (await (await fetch(`${emulator.url}/_emulator`)).json()) as { routes: string[]; s2s: unknown };
    expect(index.routes).toContain('GET /_emulator/s2s');
    expect(index.s2s).toEqual({ serviceAuthUrl: emulator.s2s!.serviceAuthUrl, xstsUrl: emulator.s2s!.xstsUrl, sandboxId: 'XDKS.1' });
  });

  it('GET /_emulator/s2s is 404 without S2S, and the index says null', async () => {
    const emulator = await started({ port: 0 });
    const answer = await fetch(`${emulator.url}/_emulator/s2s`);
    expect(answer.status).toBe(404);
    expect(await answer.json()).toEqual({ errorCode: 'NotFound', debugMessage: 'S2S authentication is off (start the emulator with --s2s or s2s: true)' });
    expect(((await (await fetch(`${emulator.url}/_emulator`)).json()) as { s2s: unknown }).s2s).toBeNull();
  });
});

describe('every 401 carries WWW-Authenticate', () => {
  const path = `/titles/${TITLE}/users/${XUID}/activities`;

  it('from the plain emulator: a missing, a malformed and an unaccepted token', async () => {
    const core = new EmulatorCore({ tokens: [TOKEN] });
    const call = async (authorization?: string) => {
      const response = await core.handle({ method: 'GET', path, headers: authorization ? { authorization } : {}, body: '' });
      return response.kind === 'answer' ? { status: response.status, challenge: response.headers['www-authenticate'] } : undefined;
    };
    expect(await call()).toEqual({ status: 401, challenge: CHALLENGE });
    expect(await call('Bearer abc')).toEqual({ status: 401, challenge: CHALLENGE });
    expect(await call('XBL3.0 x=1;other')).toEqual({ status: 401, challenge: `${CHALLENGE}, error="invalid_token"` });
    expect((await call(TOKEN))?.status).toBe(204);
  });

  it('over HTTP, from the S2S emulator: unknown, wrong user hash and expired tokens; only the expired one says token_expired', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const emulator = await started({ port: 0, s2s: { xstsLifetimeMs: 60_000 }, now: () => now });
    const auth = xboxServiceAuth({ ...emulator.s2s!, now: () => now });
    const get = (authorization: string) => fetch(`${emulator.url}${path}`, { headers: { authorization } });
    const malformed = await get('Bearer x');
    expect([malformed.status, malformed.headers.get('www-authenticate')]).toEqual([401, CHALLENGE]);
    const unknown = await get('XBL3.0 x=-;made-up');
    expect([unknown.status, unknown.headers.get('www-authenticate')]).toEqual([401, `${CHALLENGE}, error="invalid_token"`]);
    const signed = (await auth({ forceRefresh: false, signal: new AbortController().signal, method: 'GET', url: `${emulator.url}${path}`, pathAndQuery: path, body: undefined, xuid: XUID })) as { authorization: string; signature: string };
    const swapped = await fetch(`${emulator.url}${path}`, { headers: { authorization: signed.authorization.replace('x=-;', 'x=12345;'), signature: signed.signature } });
    expect([swapped.status, swapped.headers.get('www-authenticate')]).toEqual([401, `${CHALLENGE}, error="invalid_token"`]);
    now += 61_000;
    const expired = await fetch(`${emulator.url}${path}`, { headers: { authorization: signed.authorization, signature: signed.signature } });
    expect([expired.status, expired.headers.get('www-authenticate')]).toEqual([401, `${CHALLENGE}, error="token_expired"`]);
  });

  it('from the S2S token endpoint: an unknown service token gets XErr 0x8015DC1F and token_expired', async () => {
    const emulator = await started({ port: 0, s2s: true });
    const { xstsUrl, ca } = emulator.s2s!;
    const body = JSON.stringify({ RelyingParty: 'http://xboxlive.com', TokenType: 'JWT', Properties: { ServiceToken: 'from-before-a-restart', SandboxId: 'RETAIL' } });
    const answer = await new Promise<{ status: number; challenge: string | undefined; body: string }>((resolve, reject) => {
      const req = request(xstsUrl, { method: 'POST', ca, headers: { 'x-xbl-contract-version': '1', 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, challenge: res.headers['www-authenticate'], body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(answer).toMatchObject({ status: 401, challenge: `${CHALLENGE}, error="token_expired"` });
    expect(JSON.parse(answer.body)).toMatchObject({ XErr: 0x8015dc1f });
  });
});
