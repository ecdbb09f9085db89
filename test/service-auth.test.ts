/**
 * The production path end to end, against the emulator over loopback HTTPS with mutual TLS:
 * certificate -> service token -> XSTS token -> signed Multiplayer Activity calls.
 */
import { request } from 'node:https';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MpaAuthorizationError,
  MpaClient,
  MpaTransportError,
  MpaValidationError,
  xboxServiceAuth,
  type XboxServiceAuth,
  type XboxServiceAuthOptions,
} from '../src/index.js';
import { startEmulator, type Emulator } from '../src/emulator/index.js';
import type { AuthorizationRequest } from '../src/client.js';
import { refusalWaitMs } from '../src/auth/refusal-hold.js';
import { signatureTime } from '../src/auth/signature.js';
import { createTestAuthority } from '../src/emulator/s2s-certs.js';
import { activity, failure, START, TITLE } from './helpers.js';

const XUID = '2533274800000001';
let emulator: Emulator | undefined;
let extra: Server | undefined;
const proxies: Server[] = [];
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
  extra?.close();
  extra = undefined;
  for (const proxy of proxies.splice(0)) proxy.close();
});

/**
 * A TCP relay in front of a token endpoint: counts the requests that reach it (token requests
 * use one connection each) and can play an unreachable endpoint (`down`: every connection is
 * dropped at once). TLS passes through untouched.
 */
interface Relay {
  readonly url: string;
  /** Connections (token requests) so far, refused or not. */
  connections: number;
  /** When each connection came, by the test's clock. */
  readonly at: number[];
  down: boolean;
}

async function relay(target: string, clock: () => number = Date.now): Promise<Relay> {
  const to = new URL(target);
  const sockets = new Set<Socket>();
  const state = { url: '', connections: 0, at: [] as number[], down: false };
  const server = createServer((socket) => {
    state.connections++;
    state.at.push(clock());
    if (state.down) {
      socket.destroy();
      return;
    }
    const upstream = connect(Number(to.port), to.hostname);
    const close = () => {
      socket.destroy();
      upstream.destroy();
    };
    for (const end of [socket, upstream]) {
      sockets.add(end);
      end.on('error', close).on('close', () => (close(), sockets.delete(end)));
    }
    socket.pipe(upstream).pipe(socket);
  });
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxies.push(server);
  state.url = `https://127.0.0.1:${(server.address() as { port: number }).port}${to.pathname}`;
  return state;
}

/** Everything that must never be printed: the certificate, its key, tokens and signatures seen on the wire. */
class Secrets {
  readonly values: string[] = [];
  add(...values: (string | undefined)[]): void {
    for (const v of values) if (v) this.values.push(v);
  }
  addPem(pem: string): void {
    // Any line of the base64 body gives the secret away.
    for (const line of pem.split('\n')) if (line.length > 20 && !line.startsWith('-----')) this.values.push(line);
  }
  expectAbsentFrom(value: unknown): void {
    const seen = [inspect(value, { depth: 10, showHidden: true }), JSON.stringify(value) ?? '', value instanceof Error ? `${value.message}\n${value.stack}\n${inspect(value.cause, { depth: 10 })}` : ''].join('\n');
    for (const secret of this.values) expect(seen.includes(secret), 'a secret was printed').toBe(false);
  }
}

async function setup(
  s2s: { sTokenLifetimeMs?: number; xstsLifetimeMs?: number; sandboxId?: string } = {},
  authOptions: Partial<XboxServiceAuthOptions> = {},
  clientOptions: { timeoutMs?: number; tamper?: boolean; emulatorNow?: () => number; relayClock?: () => number } = {},
) {
  emulator = await startEmulator({ port: 0, host: '127.0.0.1', s2s, ...(clientOptions.emulatorNow && { now: clientOptions.emulatorNow }) });
  const credentials = emulator.s2s!;
  const secrets = new Secrets();
  secrets.addPem(credentials.key);
  secrets.addPem(credentials.cert);
  // Every token request passes a relay that counts it.
  const sRelay = await relay(credentials.serviceAuthUrl, clientOptions.relayClock);
  const xRelay = await relay(credentials.xstsUrl, clientOptions.relayClock);
  const auth = xboxServiceAuth({
    cert: credentials.cert,
    key: credentials.key,
    ca: credentials.ca,
    sandboxId: credentials.sandboxId,
    serviceAuthUrl: sRelay.url,
    xstsUrl: xRelay.url,
    ...authOptions,
  });
  const headers: Record<string, string>[] = [];
  const client = new MpaClient({
    titleId: TITLE,
    baseUrl: emulator.url,
    authorization: auth,
    ...(clientOptions.timeoutMs !== undefined && { timeoutMs: clientOptions.timeoutMs }),
    fetch: (input, init) => {
      const sent = { ...(init?.headers as Record<string, string>) };
      headers.push(sent);
      secrets.add(sent.Authorization?.split(';')[1], sent.Signature);
      if (clientOptions.tamper && sent.Signature) {
        const bytes = Buffer.from(sent.Signature, 'base64');
        bytes[bytes.length - 1]! ^= 0x01; // one bit of the signature flipped
        sent.Signature = bytes.toString('base64');
      }
      return fetch(input, { ...init, headers: sent });
    },
  });
  return { emulator, credentials, auth, client, headers, secrets, sRelay, xRelay };
}


describe('xboxServiceAuth against the S2S emulator (HTTPS, mutual TLS)', () => {
  it('gets a service token with the certificate, then an XSTS token, then signs every call', async () => {
    const { emulator, client, headers, credentials } = await setup();
    await client.setActivity(XUID, activity(1));
    expect(emulator.activity(XUID)).toMatchObject({ connectionString: '203.0.113.7:7777?m=42' });
    expect(headers[0]!.Authorization).toMatch(/^XBL3\.0 x=-;\S+$/);
    expect(Buffer.from(headers[0]!.Signature!, 'base64')).toHaveLength(76);
    expect(credentials.issued).toEqual({ serviceTokens: 1, xstsTokens: 1 });
  });

  it('a certificate given as PKCS#12 (pfx and passphrase) works the same way', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    emulator = await startEmulator({ port: 0, host: '127.0.0.1', s2s: {} });
    const credentials = emulator.s2s!;
    // A studio's .pfx as Partner Center hands it out, made here with openssl from the test certificate.
    const dir = mkdtempSync(path.join(tmpdir(), 'mpa-sync-pfx-'));
    writeFileSync(path.join(dir, 'cert.pem'), credentials.cert);
    writeFileSync(path.join(dir, 'key.pem'), credentials.key, { mode: 0o600 });
    execFileSync('openssl', ['pkcs12', '-export', '-in', path.join(dir, 'cert.pem'), '-inkey', path.join(dir, 'key.pem'), '-out', path.join(dir, 'bpc.pfx'), '-passout', 'pass:correct horse']);
    const pfx = readFileSync(path.join(dir, 'bpc.pfx'));
    const options = { ca: credentials.ca, sandboxId: credentials.sandboxId, serviceAuthUrl: credentials.serviceAuthUrl, xstsUrl: credentials.xstsUrl };
    const client = new MpaClient({ titleId: TITLE, baseUrl: emulator.url, authorization: xboxServiceAuth({ ...options, pfx, passphrase: 'correct horse' }) });
    await client.setActivity(XUID, activity(1));
    expect(emulator.activity(XUID)).toMatchObject({ connectionString: '203.0.113.7:7777?m=42' });
    expect(credentials.issued).toEqual({ serviceTokens: 1, xstsTokens: 1 });
    const wrong = (() => {
      try {
        xboxServiceAuth({ ...options, pfx, passphrase: 'wrong' });
      } catch (error) {
        return error;
      }
    })();
    expect(wrong).toBeInstanceOf(MpaValidationError);
    expect(String((wrong as Error).message)).not.toContain('correct horse');
  });

  it('100 calls at once share one service token request and one XSTS request', async () => {
    const { client, credentials, emulator } = await setup();
    await Promise.all(Array.from({ length: 100 }, (_, i) => client.setActivity(String(2533274800000001n + BigInt(i)), activity(1))));
    expect(credentials.issued).toEqual({ serviceTokens: 1, xstsTokens: 1 });
    expect(emulator.activities()).toHaveLength(100);
  });

  it('refreshes the XSTS token before it expires, and keeps the service token', async () => {
    let now = START;
    const { client, credentials, emulator } = await setup({ xstsLifetimeMs: 60_000 }, { now: () => now }, { emulatorNow: () => now });
    await client.setActivity(XUID, activity(1));
    now += 20_000;
    await client.setActivity(XUID, activity(2));
    expect(credentials.issued).toEqual({ serviceTokens: 1, xstsTokens: 1 }); // still fresh
    now += 25_000; // past the refresh point (half of a one-minute lifetime)
    await client.setActivity(XUID, activity(3));
    expect(credentials.issued).toEqual({ serviceTokens: 1, xstsTokens: 2 });
    expect(emulator.core.log.map((l) => l.status)).toEqual([204, 204, 204]); // no 401 on the way
  });

  it('a 401 (the service thinks the token expired) refreshes the XSTS token once and retries once', async () => {
    let serviceNow = START;
    const { client, credentials, emulator } = await setup({ xstsLifetimeMs: 60_000 }, { now: () => START }, { emulatorNow: () => serviceNow });
    await client.setActivity(XUID, activity(1));
    serviceNow += 61_000; // the service's clock runs ahead: our cached token is expired there
    await client.setActivity(XUID, activity(2));
    expect(emulator.core.log.map((l) => l.status)).toEqual([204, 401, 204]);
    expect(credentials.issued).toEqual({ serviceTokens: 1, xstsTokens: 2 });
  });

  it('100 calls refused with 401 at once cause one XSTS refresh, not a hundred', async () => {
    let serviceNow = START;
    const { client, credentials, emulator } = await setup({ xstsLifetimeMs: 60_000 }, { now: () => START }, { emulatorNow: () => serviceNow });
    await client.setActivity(XUID, activity(1));
    serviceNow += 61_000;
    await Promise.all(Array.from({ length: 100 }, (_, i) => client.setActivity(String(2533274800000002n + BigInt(i)), activity(1))));
    expect(credentials.issued).toEqual({ serviceTokens: 1, xstsTokens: 2 });
    expect(emulator.activities()).toHaveLength(101);
  });

  it('an expired service token (XErr 0x8015DC1F) is replaced once, then the XSTS request succeeds', async () => {
    let serviceNow = START;
    let ourNow = START;
    const { client, credentials } = await setup({ sTokenLifetimeMs: 120_000, xstsLifetimeMs: 60_000 }, { now: () => ourNow }, { emulatorNow: () => serviceNow });
    await client.setActivity(XUID, activity(1));
    ourNow += 45_000; // our XSTS token is due for a refresh; our S-token looks fresh to us
    serviceNow += 130_000; // but the service considers the S-token expired
    await client.setActivity(XUID, activity(2));
    expect(credentials.issued).toEqual({ serviceTokens: 2, xstsTokens: 2 });
  });

  it('a sandbox the certificate is not allowed in is an authorization error naming the sandbox and XErr', async () => {
    const { client, secrets } = await setup({}, { sandboxId: 'XDKS.1' });
    const error = await failure(client.setActivity(XUID, activity(1)));
    expect(error).toBeInstanceOf(MpaAuthorizationError);
    expect(error.errorCode).toBe('0x8015DC12');
    expect(error.message).toMatch(/not allowed in sandbox XDKS\.1.*Partner Center/);
    secrets.expectAbsentFrom(error);
  });

  it('a certificate the token service does not trust ends the connection: the error says to check the certificate', async () => {
    const stranger = createTestAuthority().clientCertificate();
    const { client, secrets } = await setup({}, { cert: stranger.cert, key: stranger.key });
    secrets.addPem(stranger.key);
    const error = await failure(client.setActivity(XUID, activity(1)));
    expect(error).toBeInstanceOf(MpaAuthorizationError);
    expect(error.message).toMatch(/client certificate was not accepted.*Business Partner Certificate/);
    secrets.expectAbsentFrom(error);
  });

  it('an expired certificate is named as such before anything is sent', async () => {
    const authority = createTestAuthority();
    const old = authority.clientCertificate({ notBefore: new Date(START - 86_400_000 * 30), notAfter: new Date(START - 86_400_000) });
    const { client, credentials } = await setup({}, { cert: old.cert, key: old.key, now: () => START });
    const error = await failure(client.setActivity(XUID, activity(1)));
    expect(error.message).toMatch(/certificate expired on .*renew/);
    expect(credentials.issued.serviceTokens).toBe(0);
  });

  it("without the emulator's CA the token endpoint's certificate is not trusted, and the error says what to pass", async () => {
    const { client } = await setup({}, { ca: undefined });
    const error = await failure(client.setActivity(XUID, activity(1)));
    expect(error).toBeInstanceOf(MpaAuthorizationError);
    expect(error.message).toMatch(/endpoint's certificate is not trusted.*emulator\.s2s\.ca/);
  });

  it('a tampered Signature is refused with 403, once (the clock was right: nothing to sign again), and the error points at the signature', async () => {
    const { client, emulator, secrets } = await setup({}, {}, { tamper: true });
    const error = await failure(client.setActivity(XUID, activity(1)));
    expect(error).toBeInstanceOf(MpaAuthorizationError);
    expect(error.status).toBe(403);
    expect(error.message).toMatch(/refused the request's Signature/);
    expect(emulator.activity(XUID)).toBeUndefined();
    expect(emulator.core.log.map((l) => l.status)).toEqual([403]);
    secrets.expectAbsentFrom(error);
  });

  it('a token endpoint that never answers cannot hang a call: it times out after timeoutMs', async () => {
    extra = createServer(() => undefined); // accepts TCP, never completes a TLS handshake
    await new Promise<void>((resolve) => extra!.listen(0, '127.0.0.1', resolve));
    const port = (extra.address() as { port: number }).port;
    const { client } = await setup({}, { serviceAuthUrl: `https://127.0.0.1:${port}/service/authenticate` }, { timeoutMs: 300 });
    const started = Date.now();
    const error = await failure(client.setActivity(XUID, activity(1)));
    expect(error).toBeInstanceOf(MpaTransportError);
    expect((error as MpaTransportError).reason).toBe('timeout');
    expect(error.message).toMatch(/timed out after 300 ms while getting the authorization token/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('the caller aborting stops a token request under way', async () => {
    extra = createServer(() => undefined);
    await new Promise<void>((resolve) => extra!.listen(0, '127.0.0.1', resolve));
    const port = (extra.address() as { port: number }).port;
    const { client } = await setup({}, { serviceAuthUrl: `https://127.0.0.1:${port}/service/authenticate` });
    const controller = new AbortController();
    const call = failure(client.setActivity(XUID, activity(1), { signal: controller.signal }));
    setTimeout(() => controller.abort(), 50);
    const error = await call;
    expect((error as MpaTransportError).reason).toBe('aborted');
  });

  it('delegated mode: a call about a user with a delegation token uses x=<uhs>, cached per user', async () => {
    const { client, headers, credentials, emulator } = await setup({}, { delegationToken: (xuid) => (xuid === XUID ? 'delegation-token-of-user-1' : undefined) });
    await client.setActivity(XUID, activity(1));
    await client.setActivity(XUID, activity(2));
    await client.setActivity('2533274800000002', activity(1));
    expect(headers[0]!.Authorization).toMatch(/^XBL3\.0 x=\d+;\S+$/);
    expect(headers[1]!.Authorization).toBe(headers[0]!.Authorization);
    expect(headers[2]!.Authorization).toMatch(/^XBL3\.0 x=-;/);
    expect(credentials.issued).toEqual({ serviceTokens: 1, xstsTokens: 2 });
    expect(emulator.core.log.map((l) => l.status)).toEqual([204, 204, 204]);
  });

  it('nothing secret in util.inspect or JSON of the provider and the client', async () => {
    const { client, auth, secrets } = await setup();
    await client.setActivity(XUID, activity(1));
    secrets.expectAbsentFrom(auth);
    secrets.expectAbsentFrom(client);
    expect(inspect(auth)).toMatch(/XboxServiceAuth .*sandboxId: 'RETAIL'/s);
    const emulatorSecrets = new Secrets();
    emulatorSecrets.addPem(emulator!.s2s!.key);
    emulatorSecrets.expectAbsentFrom(emulator!.s2s);
    emulatorSecrets.expectAbsentFrom(emulator);
    expect(JSON.stringify(auth)).toContain('"tokens":"cached"');
  });

  it('refuses unusable options with a validation error naming the option, without echoing the key', async () => {
    const bad = (options: unknown) => {
      try {
        xboxServiceAuth(options as XboxServiceAuthOptions);
      } catch (error) {
        return error as MpaValidationError;
      }
      throw new Error('expected a refusal');
    };
    expect(bad({ sandboxId: 'RETAIL' }).issues[0]!.path).toEqual(['cert']);
    expect(bad({ cert: 'x', key: 'secret-key-material', sandboxId: 'RETAIL' }).message).not.toContain('secret-key-material');
    expect(bad({ cert: 'x', key: 'secret-key-material', sandboxId: 'RETAIL' }).issues.map((i) => i.path[0])).toEqual(['cert', 'key']);
    expect(bad(null)).toBeInstanceOf(MpaValidationError);
    const ok = createTestAuthority().clientCertificate();
    expect(bad({ ...ok, sandboxId: 'RETAIL', serviceAuthUrl: 'http://127.0.0.1/x' }).issues[0]!.path).toEqual(['serviceAuthUrl']);
    expect(bad({ ...ok, sandboxId: 'RETAIL', tokenBackoff: { baseMs: 0 } }).issues[0]!.path).toEqual(['tokenBackoff', 'baseMs']);
    expect(bad({ ...ok, sandboxId: 'RETAIL', tokenBackoff: { baseMs: 5000, capMs: 1000 } }).issues[0]!.path).toEqual(['tokenBackoff', 'capMs']);
    expect(bad({ ...ok, sandboxId: 'RETAIL', tokenBackoff: { base: 5000 } }).issues[0]!.path).toEqual(['tokenBackoff', 'base']);
    expect(bad({ ...ok, sandboxId: 'RETAIL', random: 0.5 }).issues[0]!.path).toEqual(['random']);
    expect(bad({ ...ok }).issues[0]!.path).toEqual(['sandboxId']);
  });
});

describe('the S2S emulator refuses what the real service refuses', () => {
  it('an unknown token is 401; a known token without a valid Signature is 403', async () => {
    const { emulator, auth } = await setup();
    const plain = new MpaClient({ titleId: TITLE, baseUrl: emulator.url, authorization: () => 'XBL3.0 x=-;made-up' });
    expect((await failure(plain.setActivity(XUID, activity(1)))).status).toBe(401);
    const unsigned = new MpaClient({
      titleId: TITLE,
      baseUrl: emulator.url,
      authorization: async (request) => {
        const signed = await auth(request);
        return typeof signed === 'string' ? signed : signed.authorization; // the Signature dropped
      },
    });
    const error = await failure(unsigned.setActivity(XUID, activity(1)));
    expect(error.status).toBe(403);
    expect(error.debugMessage).toMatch(/no Signature/);
  });

  it('a token signed for one user hash is refused for another', async () => {
    const { emulator, auth } = await setup();
    const swapped = new MpaClient({
      titleId: TITLE,
      baseUrl: emulator.url,
      authorization: async (request) => {
        const signed = (await auth(request)) as { authorization: string };
        return signed.authorization.replace('x=-;', 'x=12345;');
      },
    });
    expect((await failure(swapped.setActivity(XUID, activity(1)))).status).toBe(401);
  });

  it('the token endpoint drops a connection without a client certificate, and answers 400 to a body not as documented', async () => {
    const { credentials } = await setup();
    const post = (cert: { cert: string; key: string } | undefined, body: string) =>
      new Promise<number | string>((resolve) => {
        const req = request(credentials.serviceAuthUrl, { method: 'POST', ca: credentials.ca, ...cert, headers: { 'x-xbl-contract-version': '1', 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
        req.end(body);
      });
    expect(await post(undefined, '{}')).toBe('ECONNRESET');
    expect(await post({ cert: credentials.cert, key: credentials.key }, '{"RelyingParty":"http://auth.xboxlive.com","TokenType":"JWT"}')).toBe(400);
    expect(await post({ cert: credentials.cert, key: credentials.key }, 'not json')).toBe(400);
  });

  it('without s2s the emulator accepts any well-formed XBL3.0 header, as before', async () => {
    emulator = await startEmulator({ port: 0 });
    expect(emulator.s2s).toBeUndefined();
    const client = new MpaClient({ titleId: TITLE, baseUrl: emulator.url, authorization: () => 'XBL3.0 x=1;t' });
    await client.setActivity(XUID, activity(1));
  });
});

describe('a server clock off by more than the 5 minutes the services allow', () => {
  const statuses = () => emulator!.core.log.map((l) => l.status);
  const players = (n: number) => Array.from({ length: n }, (_, i) => String(2533274800000002n + BigInt(i)));

  it.each([
    ['ahead', 10 * 60_000],
    ['behind', -10 * 60_000],
  ])("%s by 10 minutes from the start: the refused service token request is signed again once with the services' time, and every call after it is signed with that time", async (_, skew) => {
    const { client, credentials, auth, headers, sRelay, xRelay } = await setup({}, { now: () => Date.now() + skew });
    await client.setActivity(XUID, activity(1));
    expect(sRelay.connections).toBe(2); // refused for its timestamp, then signed again, once
    expect(xRelay.connections).toBe(1);
    expect(credentials.issued).toEqual({ serviceTokens: 1, xstsTokens: 1 });
    expect(Math.abs(auth.clockOffsetMs + skew)).toBeLessThan(3_000);
    await Promise.all(players(50).map((xuid) => client.setActivity(xuid, activity(1))));
    expect(statuses()).toEqual(Array(51).fill(204)); // no call refused, none sent twice
    for (const sent of headers) expect(Math.abs(signatureTime(sent.Signature!)! - Date.now())).toBeLessThan(5 * 60_000);
    expect(sRelay.connections + xRelay.connections).toBe(3);
  });

  it.each([
    ['ahead', 10 * 60_000],
    ['behind', -10 * 60_000],
  ])('a clock that jumps %s by 10 minutes after the tokens were had: the refused call is signed again once; later calls are not refused', async (_, jump) => {
    let skew = 0;
    const { client, auth, emulator } = await setup({}, { now: () => Date.now() + skew });
    await client.setActivity(XUID, activity(1));
    skew = jump;
    await client.setActivity(XUID, activity(2));
    expect(statuses()).toEqual([204, 403, 204]);
    expect(Math.abs(auth.clockOffsetMs + jump)).toBeLessThan(3_000);
    await Promise.all(players(50).map((xuid) => client.setActivity(xuid, activity(1))));
    expect(statuses().slice(3)).toEqual(Array(50).fill(204));
    expect(emulator.activity(XUID)).toMatchObject({ sequenceNumber: '2' });
  });

  it('200 calls under way when the clock jumps: each is refused at most once and then succeeds; no storm', async () => {
    let skew = 0;
    const { client } = await setup({}, { now: () => Date.now() + skew });
    await client.setActivity(XUID, activity(1));
    skew = -10 * 60_000;
    await Promise.all(players(200).map((xuid) => client.setActivity(xuid, activity(1))));
    const after = statuses().slice(1);
    expect(after.filter((s) => s === 204)).toHaveLength(200);
    expect(after.filter((s) => s === 403).length).toBeLessThanOrEqual(200);
    expect(after.filter((s) => s !== 204 && s !== 403)).toEqual([]);
    const before = statuses().length;
    await Promise.all(players(200).map((xuid) => client.setActivity(xuid, activity(2))));
    expect(statuses().slice(before)).toEqual(Array(200).fill(204));
  });

  it('a call refused again after it was signed with the corrected time is not sent a third time', async () => {
    let skew = 0;
    const { client, secrets } = await setup({}, { now: () => Date.now() + skew }, { tamper: true });
    await failure(client.setActivity(XUID, activity(1))); // tampered, clock right: refused once, not signed again
    skew = 10 * 60_000;
    const error = await failure(client.setActivity(XUID, activity(2)));
    expect(statuses()).toEqual([403, 403, 403]); // the second call: refused for the time, signed again, refused for the tampering
    expect(error).toMatchObject({ code: 'AUTHORIZATION', status: 403 });
    secrets.expectAbsentFrom(error);
  });
});

describe('a token service that fails: one request per wait, not one per caller', () => {
  const path = (xuid: string) => `/titles/${TITLE}/users/${xuid}/activities`;
  const ask = (xuid: string, extra: Partial<AuthorizationRequest> = {}): AuthorizationRequest => ({
    forceRefresh: false,
    signal: new AbortController().signal,
    method: 'PUT',
    url: `http://127.0.0.1${path(xuid)}`,
    pathAndQuery: path(xuid),
    body: undefined,
    xuid,
    ...extra,
  });
  const players = (n: number) => Array.from({ length: n }, (_, i) => String(2533274800000001n + BigInt(i)));
  /** Every player asks the provider at once. */
  const everyone = (auth: XboxServiceAuth, n = 200) => Promise.allSettled(players(n).map((xuid) => Promise.resolve(auth(ask(xuid)))));
  const reasons = (outcomes: PromiseSettledResult<unknown>[]) =>
    outcomes.map((o) => {
      expect(o.status).toBe('rejected');
      return (o as PromiseRejectedResult).reason as MpaAuthorizationError;
    });

  it('200 players at once against an XSTS endpoint that refuses: one XSTS request; everyone gets the refusal and when the next request may go, at once, until then', async () => {
    let now = START;
    const { auth, client, emulator, sRelay, xRelay, secrets } = await setup({}, { sandboxId: 'XDKS.1', now: () => now, random: () => 0.5 }, { emulatorNow: () => now });
    for (const error of reasons(await everyone(auth))) {
      expect(error).toBeInstanceOf(MpaAuthorizationError);
      expect(error).toMatchObject({ status: 401, errorCode: '0x8015DC12', retryAfterMs: 500 });
      expect(error.message).toMatch(/not allowed in sandbox XDKS\.1.*\(no new token request for 0\.5 s\)/);
      secrets.expectAbsentFrom(error);
    }
    expect(sRelay.connections).toBe(1);
    expect(xRelay.connections).toBe(1);
    now += 300;
    for (const error of reasons(await everyone(auth))) expect(error).toMatchObject({ errorCode: '0x8015DC12', retryAfterMs: 200 });
    // Through the client too: the call fails at once and nothing reaches the service.
    expect(await failure(client.setActivity(XUID, activity(1)))).toMatchObject({ code: 'AUTHORIZATION', errorCode: '0x8015DC12', retryAfterMs: 200 });
    expect(emulator.core.log).toHaveLength(0);
    expect(xRelay.connections).toBe(1);
    now += 200; // the wait is over: the next try is one request for everyone
    for (const error of reasons(await everyone(auth))) expect(error).toMatchObject({ errorCode: '0x8015DC12', retryAfterMs: 1000 });
    expect(xRelay.connections).toBe(2);
    expect(sRelay.connections).toBe(1);
  });

  it.each([
    ['at the middle of each ceiling', 0.5, [0, 500, 1500, 3500, 7500, 15500]],
    ['always at the floor (half the base)', 0, Array.from({ length: 41 }, (_, i) => i * 500)],
  ])('200 players asking every 100 ms for 20 s: the XSTS requests follow the backoff schedule (random draws %s)', async (_, draw, expected) => {
    let now = START;
    const { auth, xRelay } = await setup({}, { sandboxId: 'XDKS.1', now: () => now, random: () => draw }, { emulatorNow: () => now, relayClock: () => now - START });
    for (let t = 0; t <= 20_000; t += 100) {
      now = START + t;
      reasons(await everyone(auth));
    }
    expect(xRelay.at).toEqual(expected);
  });

  it('an unreachable XSTS endpoint is held the same way; once it is back, the next try is one request, and the success resets the backoff', async () => {
    let now = START;
    const { auth, xRelay, secrets } = await setup({}, { now: () => now, random: () => 0.5 }, { emulatorNow: () => now });
    xRelay.down = true;
    for (const error of reasons(await everyone(auth))) {
      expect(error).toMatchObject({ code: 'AUTHORIZATION', retryAfterMs: 500 });
      expect(error.cause).toBeInstanceOf(MpaTransportError);
      expect(error.message).toMatch(/XSTS token request failed on the network/);
      secrets.expectAbsentFrom(error);
    }
    expect(xRelay.connections).toBe(1);
    now += 499;
    reasons(await everyone(auth));
    expect(xRelay.connections).toBe(1);
    now += 1;
    for (const error of reasons(await everyone(auth))) expect(error.retryAfterMs).toBe(1000); // the second wait
    expect(xRelay.connections).toBe(2);
    xRelay.down = false;
    now += 1000;
    const back = await everyone(auth);
    expect(xRelay.connections).toBe(3);
    const values = new Set(back.map((o) => (o.status === 'fulfilled' ? (o.value as { authorization: string }).authorization : 'rejected')));
    expect([...values]).toHaveLength(1);
    expect([...values][0]).toMatch(/^XBL3\.0 x=-;/);
    // The service refuses the token (401): the refresh fails, and its wait is the first one again.
    xRelay.down = true;
    const refused = [...values][0]!;
    expect(await failure(Promise.resolve(auth(ask(XUID, { forceRefresh: true, refused }))))).toMatchObject({ retryAfterMs: 500 });
    expect(xRelay.connections).toBe(4);
    // The refused token is dropped: nobody sends it again while the refresh is held.
    for (const error of reasons(await everyone(auth))) expect(error.retryAfterMs).toBe(500);
    expect(xRelay.connections).toBe(4);
  });

  it('a certificate the token service refuses holds the service token for everyone, delegated users included', async () => {
    let now = START;
    const stranger = createTestAuthority().clientCertificate();
    const { auth, sRelay, xRelay, secrets } = await setup(
      {},
      { cert: stranger.cert, key: stranger.key, now: () => now, random: () => 0.5, delegationToken: (xuid) => (BigInt(xuid) % 2n === 0n ? `delegation-${xuid}` : undefined) },
      { emulatorNow: () => now },
    );
    secrets.addPem(stranger.key);
    for (const error of reasons(await everyone(auth))) {
      expect(error).toMatchObject({ code: 'AUTHORIZATION', retryAfterMs: 500 });
      expect(error.message).toMatch(/client certificate was not accepted/);
      secrets.expectAbsentFrom(error);
    }
    expect(sRelay.connections).toBe(1);
    now += 250;
    for (const error of reasons(await everyone(auth, 400))) expect(error.retryAfterMs).toBe(250); // 200 users never seen before among them
    expect(sRelay.connections).toBe(1);
    expect(xRelay.connections).toBe(0);
  });

  it('the wait grows to its cap and never drops under half the base, whatever the random source gives', () => {
    const backoff = { baseMs: 1000, capMs: 60_000 };
    expect([1, 2, 3, 4, 5, 6, 7, 8, 40].map((n) => refusalWaitMs(n, backoff, () => 0.999999))).toEqual([999, 1999, 3999, 7999, 15999, 31999, 59999, 59999, 59999]);
    expect(refusalWaitMs(1, backoff, () => 0)).toBe(500);
    expect(refusalWaitMs(3, backoff, () => Number.NaN)).toBe(4000);
    expect(refusalWaitMs(3, backoff, () => 7)).toBe(4000);
  });
});
