/**
 * The emulator's server-to-server authentication: the two token services (S-token over mutual
 * TLS, XSTS) on one HTTPS port on the emulator's host, and the check of `XBL3.0 x=...;<token>` plus
 * `Signature` on every Multiplayer Activity call. Tokens are opaque random strings that this
 * service remembers with their proof key, sandbox, user hash and expiry.
 */
import { createHash, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import { hostname, networkInterfaces } from 'node:os';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { inspect } from 'node:util';
import { z } from 'zod';
import { sandboxIdSchema } from '../auth/service-auth.js';
import { MpaUsageError } from '../errors.js';
import { msSchema, parseInput, unlessUnknownKey } from '../schemas.js';
import type { AuthorizationCheck, CoreRequest } from './core.js';
import { createTestAuthority } from './s2s-certs.js';
import { signatureProblem } from './s2s-verify.js';
import { UNAUTHORIZED_HEADERS } from './www-authenticate.js';

/**
 * Options of the emulator's S2S mode (`startEmulator({ s2s: { ... } })`). Checked before
 * anything listens: an unknown key or a bad value is an `MpaValidationError` naming `s2s.<key>`.
 */
export interface S2sOptions {
  /** Lifetime of a service token (S-token), in ms: an integer from 1 to 2^31-1 (about 24.8 days). Default 14 days, as the service. */
  sTokenLifetimeMs?: number;
  /** Lifetime of an XSTS token, in ms: an integer from 1 to 2^31-1 (about 24.8 days). Default 8 hours, as the documented example. */
  xstsLifetimeMs?: number;
  /**
   * The one sandbox the emulator's certificate is allowed in. Default `RETAIL`. Case-sensitive,
   * letters, digits, `.`, `_` and `-` only: the sandbox ids `xboxServiceAuth` accepts.
   */
  sandboxId?: string;
  /**
   * The port of the token endpoints (both on one HTTPS port, on the emulator's `host`): an
   * integer from 0 to 65535. Default 0, a free port the system picks; fix it when a CI script
   * must know the URLs before the emulator starts.
   */
  tokenPort?: number;
}

// Lifetimes are held to the timer range like every other millisecond option. Nothing here puts
// them on a timer (they are compared with the clock), but a client may: the tokens' NotAfter
// minus IssueInstant is what a caller schedules its refresh with. And far past it the dates
// break: 1e15 ms gives a NotAfter in year 33658, which no ISO-8601 reader accepts.
const s2sOptionsSchema = z.strictObject(
  {
    sTokenLifetimeMs: msSchema('sTokenLifetimeMs', 1).optional(),
    xstsLifetimeMs: msSchema('xstsLifetimeMs', 1).optional(),
    // Exactly what xboxServiceAuth accepts: a sandbox a client cannot ask for would make every
    // XSTS request fail with a sandbox error that blames the certificate.
    sandboxId: sandboxIdSchema('sandboxId must be a string such as RETAIL or XDKS.1').optional(),
    tokenPort: z.number({ error: 'tokenPort must be a port number' }).int({ error: 'tokenPort must be an integer' }).min(0, { error: 'tokenPort must be 0..65535' }).max(65_535, { error: 'tokenPort must be 0..65535' }).optional(),
  },
  { error: unlessUnknownKey('s2s must be true, false or an object of S2S options') },
);
// Every option is checked: this fails to compile when one is missing from the schema.
const EVERY_S2S_OPTION_CHECKED: Exclude<keyof S2sOptions, keyof typeof s2sOptionsSchema.shape> extends never ? true : never = true;
void EVERY_S2S_OPTION_CHECKED;

/** What a caller needs to authenticate to the emulator like to the real service. */
export interface S2sCredentials {
  /** A client certificate the token service trusts (stands in for a Business Partner Certificate), PEM. */
  readonly cert: string;
  /** Its private key, PEM. */
  readonly key: string;
  /** The emulator's CA certificate, PEM: pass it as `ca` so the token endpoints' certificate is trusted. */
  readonly ca: string;
  /** `https://<host>:<port>/service/authenticate`, on the emulator's host (`https://127.0.0.1:<port>/...` by default). */
  readonly serviceAuthUrl: string;
  /** `https://<host>:<port>/xsts/authorize`. */
  readonly xstsUrl: string;
  /** The sandbox the certificate is allowed in. */
  readonly sandboxId: string;
  /** Tokens issued so far: `serviceTokens` (S-tokens) and `xstsTokens`. */
  readonly issued: { serviceTokens: number; xstsTokens: number };
}


/** The running S2S side of an emulator. */
export interface S2sService {
  readonly credentials: S2sCredentials;
  /** Checks a Multiplayer Activity call: a live XSTS token for the right user hash, and a Signature by its proof key. */
  authorize(request: CoreRequest): AuthorizationCheck;
  close(): Promise<void>;
}

const XERR_SANDBOX = 0x8015dc12; // the certificate is not allowed in this sandbox
const XERR_EXPIRED = 0x8015dc1f; // the service token expired
const MAX_BODY_BYTES = 64 * 1024;

const proofKeySchema = z.object({ alg: z.literal('ES256'), kty: z.literal('EC'), use: z.literal('sig'), crv: z.literal('P-256'), x: z.string(), y: z.string() });
const sTokenRequestSchema = z.object({
  Properties: z.object({ ProofKey: proofKeySchema }),
  RelyingParty: z.literal('http://auth.xboxlive.com'),
  TokenType: z.literal('JWT'),
});
const xstsRequestSchema = z.object({
  RelyingParty: z.string().min(1),
  TokenType: z.literal('JWT'),
  Properties: z.object({ ServiceToken: z.string().min(1), SandboxId: z.string().min(1), DelegationToken: z.string().min(1).optional() }),
});

interface Issued {
  proofKey: KeyObject;
  notAfter: number;
  sandboxId?: string;
  /** User hash of a delegated XSTS token; `-` for a service token. */
  userHash?: string;
}

class Answer {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

/**
 * The names the token endpoints' certificate must carry beyond loopback: the host they listen
 * on, and when that is every interface (`0.0.0.0`, `::`), this machine's name and addresses,
 * since a client elsewhere (another container) reaches them by one of those.
 */
function certificateNames(host: string): string[] {
  if (host !== '0.0.0.0' && host !== '::') return [host];
  const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
  return [host, hostname(), ...addresses];
}

/**
 * Starts the token services on an HTTPS port on `host` (`tokenPort`, default any free one)
 * with a fresh test CA whose server certificate names that host. Refuses bad `options` (as
 * `emulator options`, paths under `s2s`) before creating anything; a port it cannot listen on
 * is an {@link MpaUsageError} naming the address and the system's code.
 */
export async function startS2sService(options: S2sOptions, now: () => number, host = '127.0.0.1'): Promise<S2sService> {
  const checked = parseInput(s2sOptionsSchema, options, 'emulator options', ['s2s']);
  const sTokenLifetimeMs = checked.sTokenLifetimeMs ?? 14 * 86_400_000;
  const xstsLifetimeMs = checked.xstsLifetimeMs ?? 8 * 3_600_000;
  const sandboxId = checked.sandboxId ?? 'RETAIL';
  const authority = createTestAuthority();
  const server = authority.serverCertificate(certificateNames(host));
  const client = authority.clientCertificate();
  const sTokens = new Map<string, Issued>();
  const xTokens = new Map<string, Issued>();
  const issued = { serviceTokens: 0, xstsTokens: 0 };

  // requestCert without rejectUnauthorized: XSTS is called without a client certificate, so the
  // S-token endpoint checks `authorized` itself and drops the connection like the real one.
  const https: Server = createServer(
    { cert: server.cert, key: server.key, ca: [authority.ca], requestCert: true, rejectUnauthorized: false, headersTimeout: 10_000, requestTimeout: 10_000 },
    (req, res) => {
      serve(req, res).catch(() => {
        if (!res.headersSent) send(res, new Answer(500, { errorCode: 'InternalServerError', debugMessage: 'token service failure' }), now());
        else res.destroy();
      });
    },
  );
  const sockets = new Set<Socket>();
  https.on('secureConnection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  https.on('tlsClientError', () => undefined); // a refused handshake is the client's problem, not a crash

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    const answer = (a: Answer) => send(res, a, now());
    if (req.method === 'POST' && path === '/service/authenticate' && !(req.socket as TLSSocket).authorized) {
      req.socket.destroy(); // no trusted client certificate: the real service drops the connection
      return;
    }
    const body = await readBody(req);
    if (body === undefined) return answer(new Answer(413, { errorCode: 'PayloadTooLarge', debugMessage: `bodies are limited to ${MAX_BODY_BYTES} bytes` }));
    try {
      if (req.method !== 'POST') throw new Answer(405, { errorCode: 'MethodNotAllowed', debugMessage: 'POST only' });
      if (req.headers['x-xbl-contract-version'] !== '1') throw new Answer(400, { errorCode: 'BadRequest', debugMessage: 'x-xbl-contract-version: 1 is required' });
      const signed = { signature: header(req, 'signature'), method: req.method, pathAndQuery: path, authorization: header(req, 'authorization') ?? '', body };
      if (path === '/service/authenticate') return answer(serviceToken(signed));
      if (path === '/xsts/authorize') return answer(xstsToken(signed));
      throw new Answer(404, { errorCode: 'NotFound', debugMessage: `no route for ${path}` });
    } catch (error) {
      if (error instanceof Answer) return answer(error);
      throw error;
    }
  }

  type Signed = { signature: string | undefined; method: string; pathAndQuery: string; authorization: string; body: Buffer };

  function serviceToken(request: Signed): Answer {
    const input = parse(sTokenRequestSchema, request.body);
    let proofKey: KeyObject;
    try {
      const { kty, crv, x, y } = input.Properties.ProofKey;
      proofKey = createPublicKey({ key: { kty, crv, x, y }, format: 'jwk' });
    } catch {
      throw new Answer(400, { errorCode: 'BadRequest', debugMessage: 'ProofKey is not a P-256 public key' });
    }
    checkSignature(request, proofKey);
    const time = now();
    prune(sTokens, time);
    const token = randomBytes(24).toString('base64url');
    sTokens.set(token, { proofKey, notAfter: time + sTokenLifetimeMs });
    issued.serviceTokens++;
    return new Answer(200, { IssueInstant: new Date(time).toISOString(), NotAfter: new Date(time + sTokenLifetimeMs).toISOString(), Token: token, DisplayClaims: null });
  }

  function xstsToken(request: Signed): Answer {
    const input = parse(xstsRequestSchema, request.body);
    const time = now();
    const sToken = sTokens.get(input.Properties.ServiceToken);
    // An unknown S-token (say, from before the emulator restarted) gets the expired answer:
    // the remedy, a new S-token, is the same.
    if (!sToken || sToken.notAfter <= time) throw new Answer(401, { Identity: '0', XErr: XERR_EXPIRED, Message: 'the service token expired', Redirect: '' }, UNAUTHORIZED_HEADERS.expired);
    checkSignature(request, sToken.proofKey);
    if (input.Properties.SandboxId !== sandboxId) throw new Answer(401, { Identity: '0', XErr: XERR_SANDBOX, Message: 'the certificate is not allowed in this sandbox', Redirect: '' }, UNAUTHORIZED_HEADERS.invalid);
    const delegation = input.Properties.DelegationToken;
    // The emulator trusts any delegation token and derives a stable user hash from it.
    const userHash = delegation ? BigInt('0x' + createHash('sha256').update(delegation).digest('hex').slice(0, 15)).toString() : '-';
    prune(xTokens, time);
    const token = randomBytes(32).toString('base64url');
    xTokens.set(token, { proofKey: sToken.proofKey, notAfter: time + xstsLifetimeMs, sandboxId, userHash });
    issued.xstsTokens++;
    return new Answer(200, {
      IssueInstant: new Date(time).toISOString(),
      NotAfter: new Date(time + xstsLifetimeMs).toISOString(),
      Token: token,
      DisplayClaims: delegation ? { xui: [{ uhs: userHash }] } : {},
    });
  }

  function checkSignature(request: Signed, key: KeyObject): void {
    const problem = signatureProblem(request.signature, request, key, now());
    if (problem) throw new Answer(403, { errorCode: 'InvalidSignature', debugMessage: problem });
  }

  const tokenPort = checked.tokenPort ?? 0;
  await new Promise<void>((resolve, reject) => {
    https.once('error', reject);
    // On the emulator's host, which the server certificate names: where a client reaches the
    // emulator, it reaches the token endpoints too.
    https.listen(tokenPort, host, () => resolve());
  }).catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.name : 'error');
    throw new MpaUsageError(`startEmulator: the S2S token endpoints cannot listen on ${host}:${tokenPort} (${code})`);
  });
  const address = https.address() as { address: string; port: number; family: string };
  const origin = `https://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

  const credentials = { cert: client.cert, key: client.key, ca: authority.ca, serviceAuthUrl: `${origin}/service/authenticate`, xstsUrl: `${origin}/xsts/authorize`, sandboxId } as S2sCredentials;
  // A live counter, not something to hand on: not enumerable, so that
  // `xboxServiceAuth(emulator.s2s)`, which refuses unknown keys, takes the credentials as they are.
  Object.defineProperty(credentials, 'issued', { value: issued, enumerable: false });
  // Even a throw-away key is kept out of util.inspect and JSON: logs get copied around.
  const shown = () => ({ serviceAuthUrl: credentials.serviceAuthUrl, xstsUrl: credentials.xstsUrl, sandboxId, issued, cert: '[certificate]', key: '[hidden]', ca: '[certificate]' });
  Object.defineProperties(credentials, {
    toJSON: { value: shown },
    [inspect.custom]: { value: () => `S2sCredentials ${inspect(shown())}` },
  });
  return {
    credentials,
    authorize(request) {
      const value = request.headers.authorization;
      const match = value ? /^XBL3\.0 x=([^;\s]+);(\S+)$/.exec(value) : null;
      const time = now();
      if (!value || !match) return refuse(time, 401, 'Unauthorized', 'Authorization must be XBL3.0 x=<userhash>;<token>', UNAUTHORIZED_HEADERS.missing);
      const token = xTokens.get(match[2]!);
      if (!token) return refuse(time, 401, 'Unauthorized', 'the token is not valid (unknown)', UNAUTHORIZED_HEADERS.invalid);
      if (token.notAfter <= time) return refuse(time, 401, 'Unauthorized', 'the token expired', UNAUTHORIZED_HEADERS.expired);
      if (token.userHash !== match[1]) return refuse(time, 401, 'Unauthorized', `the token was issued for x=${token.userHash}, not x=${match[1]}`, UNAUTHORIZED_HEADERS.invalid);
      const problem = signatureProblem(request.headers.signature, { method: request.method, pathAndQuery: request.path, authorization: value, body: Buffer.from(request.body, 'utf8') }, token.proofKey, time);
      if (problem) return refuse(time, 403, 'InvalidSignature', problem);
      return { caller: token.userHash === '-' ? 'service' : token.userHash! };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        https.close(() => resolve());
      }),
  };
}

/**
 * A refused call, with a `Date` from the emulator's clock (not the host's): a client corrects
 * its signing clock from a refusal's `Date`, so it must be the clock that judged it.
 */
function refuse(time: number, status: number, errorCode: string, debugMessage: string, headers?: Readonly<Record<string, string>>): AuthorizationCheck {
  return { status, errorCode, debugMessage, headers: { ...headers, date: new Date(time).toUTCString() } };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function parse<S extends z.ZodType>(schema: S, body: Buffer): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new Answer(400, { errorCode: 'BadRequest', debugMessage: 'the body is not JSON' });
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Answer(400, { errorCode: 'BadRequest', debugMessage: `${issue.path.join('.') || 'body'}: ${issue.message}` });
  }
  return result.data;
}

/** Drops expired tokens from the front (tokens of one kind expire in the order they were issued). */
function prune(tokens: Map<string, Issued>, time: number): void {
  for (const [token, entry] of tokens) {
    if (entry.notAfter > time) break;
    tokens.delete(token);
  }
}

/** Reads a body up to {@link MAX_BODY_BYTES}; `undefined` past it. Never throws (an aborted body is empty). */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(Buffer.alloc(0)));
    req.on('aborted', () => resolve(Buffer.alloc(0)));
  });
}

/** Writes an answer dated by the emulator's clock, which is the one its signature check uses. */
function send(res: ServerResponse, answer: Answer, time: number): void {
  if (res.destroyed) return;
  res.writeHead(answer.status, { 'content-type': 'application/json', date: new Date(time).toUTCString(), ...answer.headers });
  res.end(JSON.stringify(answer.body));
}
