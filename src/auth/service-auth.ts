/**
 * `xboxServiceAuth`: the token provider a title service uses against the real Xbox services.
 * Business Partner Certificate -> service token (S-token, mutual TLS) -> XSTS token -> every
 * call signed with one P-256 proof key. Tokens are cached and refreshed by one shared request;
 * a failed token request is kept for a growing wait; signatures carry the services' time as
 * their `Date` headers tell it; failures are typed errors that say what to do; nothing secret
 * can be printed.
 */
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { inspect } from 'node:util';
import { createSecureContext } from 'node:tls';
import { z } from 'zod';
import type { AuthorizationProvider, AuthorizationRequest, ObservedResponse } from '../client.js';
import { MpaAuthorizationError, MpaValidationError } from '../errors.js';
import type { RandomSource } from '../random.js';
import { raceSignal } from '../race-signal.js';
import { functionSchema, msSchema, parseInput, unlessUnknownKey } from '../schemas.js';
import { DEFAULT_TOKEN_BACKOFF, HeldFlight, RefusalHold, type TokenBackoff } from './refusal-hold.js';
import { refusedForTime, ServiceClock } from './service-clock.js';
import { signatureTime, signRequest } from './signature.js';
import { postToken, type TokenTls } from './token-request.js';

/** Options of {@link xboxServiceAuth}. */
export interface XboxServiceAuthOptions {
  /** The Business Partner Certificate, PEM (string or Buffer). With `key`; or give `pfx`. */
  cert?: string | Buffer;
  /** Its private key, PEM. */
  key?: string | Buffer;
  /** Certificate and key as PKCS#12, instead of `cert` and `key`. */
  pfx?: Buffer;
  /** Passphrase of `key` or `pfx`. */
  passphrase?: string;
  /** The sandbox, case-sensitive: `RETAIL`, `XDKS.1`, ... Required. */
  sandboxId: string;
  /** Extra CA certificate(s) to trust for the token endpoints (the emulator's `emulator.s2s.ca`). */
  ca?: string | Buffer | (string | Buffer)[];
  /** Default `https://service.auth.xboxlive.com/service/authenticate`. */
  serviceAuthUrl?: string;
  /** Default `https://xsts.auth.xboxlive.com/xsts/authorize`. */
  xstsUrl?: string;
  /** Relying party of the XSTS token. Default `http://xboxlive.com`. */
  relyingParty?: string;
  /**
   * The local clock. Default `Date.now`. Signatures carry it corrected by the offset learnt
   * from the services' `Date` headers (see {@link XboxServiceAuth.clockOffsetMs}); token
   * lifetimes and waits are measured with it as it is.
   */
  now?: () => number;
  /** Random source in [0, 1) for the jitter of {@link XboxServiceAuthOptions.tokenBackoff}. Default `Math.random`. */
  random?: RandomSource;
  /**
   * How long a failed token request (a refusal, an unusable answer, an unreachable endpoint)
   * is kept before the token service is asked again: the wait after the n-th failure in a row
   * is a uniform draw below `min(capMs, baseMs * 2^(n-1))`, never under `baseMs / 2`. Every
   * call during the wait fails at once with an `MpaAuthorizationError` whose `retryAfterMs`
   * says how long is left. Default `{ baseMs: 1000, capMs: 60000 }`.
   */
  tokenBackoff?: { baseMs?: number; capMs?: number };
  /**
   * Delegated mode: a user's delegation token, for calls that concern that user. When it
   * returns one, the call uses a delegated XSTS token (`x=<uhs>;...`), cached per user;
   * `undefined` falls back to the service token.
   */
  delegationToken?: (xuid: string) => string | undefined | Promise<string | undefined>;
}

/** The provider {@link xboxServiceAuth} returns: pass it as `MpaClient`'s `authorization`. */
export interface XboxServiceAuth extends AuthorizationProvider {
  /** The sandbox tokens are requested for. */
  readonly sandboxId: string;
  /** SHA-256 fingerprint of the client certificate (public; names it without showing it). */
  readonly certificateFingerprint: string | undefined;
  /**
   * What is added to the local clock to sign with the services' time, in ms: learnt from the
   * `Date` header of the token services' answers and of the calls the service refused (401,
   * 403). 0 while the clocks agree (within 2 s).
   */
  readonly clockOffsetMs: number;
  /**
   * Told about each answer by `MpaClient`: learns the clock offset from a refusal's `Date`, and
   * returns true when a 403 refused the call's Signature for its timestamp (the client then
   * signs the call again, once, with the corrected time).
   */
  observeResponse(response: ObservedResponse): boolean;
}

/** Default service token endpoint. */
export const DEFAULT_SERVICE_AUTH_URL = 'https://service.auth.xboxlive.com/service/authenticate';
/** Default XSTS endpoint. */
export const DEFAULT_XSTS_URL = 'https://xsts.auth.xboxlive.com/xsts/authorize';

const XERR_SANDBOX = 0x8015dc12;
const XERR_EXPIRED = 0x8015dc1f;
const EARLY_MS = 5 * 60_000; // refresh this long before NotAfter (or at half-life, if sooner)
const MAX_DELEGATED_USERS = 10_000;

/**
 * A sandbox id as {@link xboxServiceAuth} accepts it (`RETAIL`, `XDKS.1`, ...); the emulator's
 * `s2s.sandboxId` uses the same rule, so that any sandbox it can be given, a client can ask for.
 * `typeError` is the message for a value that is not a string at all.
 * @internal
 */
export const sandboxIdSchema = (typeError: string) =>
  z.string({ error: typeError }).regex(/^[A-Za-z0-9._-]+$/, { error: 'sandboxId must look like RETAIL or XDKS.1' });

const pem = z.union([z.string().min(1), z.instanceof(Buffer)]);
const httpsUrl = (name: string) => z.url({ protocol: /^https$/, error: `${name} must be an https:// URL` });
// Strict: a misspelt option (`relyingparty`) would otherwise be dropped and its default used
// without a word, and the token would be requested for the wrong relying party.
const optionsSchema = z
  .strictObject(
    {
      cert: pem.optional(),
      key: pem.optional(),
      pfx: z.instanceof(Buffer, { error: 'pfx must be a Buffer' }).optional(),
      passphrase: z.string().optional(),
      sandboxId: sandboxIdSchema('sandboxId is required (RETAIL, XDKS.1, ...)'),
      ca: z.union([pem, z.array(pem)]).optional(),
      serviceAuthUrl: httpsUrl('serviceAuthUrl').optional(),
      xstsUrl: httpsUrl('xstsUrl').optional(),
      relyingParty: z.string().min(1).optional(),
      now: z.custom<() => number>((v) => typeof v === 'function', { error: 'now must be a function' }).optional(),
      random: functionSchema('random', 'a function returning a number in [0, 1)').optional(),
      tokenBackoff: z
        .strictObject(
          { baseMs: msSchema('tokenBackoff.baseMs', 1).optional(), capMs: msSchema('tokenBackoff.capMs', 1).optional() },
          { error: unlessUnknownKey('tokenBackoff must be an object { baseMs?, capMs? }') },
        )
        .refine((b) => (b.capMs ?? DEFAULT_TOKEN_BACKOFF.capMs) >= (b.baseMs ?? DEFAULT_TOKEN_BACKOFF.baseMs), { error: 'tokenBackoff.capMs must be at least baseMs', path: ['capMs'] })
        .optional(),
      delegationToken: z.custom<(xuid: string) => unknown>((v) => typeof v === 'function', { error: 'delegationToken must be a function' }).optional(),
    },
    { error: unlessUnknownKey('xboxServiceAuth options must be an object') },
  )
  .refine((o) => (o.pfx !== undefined) !== (o.cert !== undefined || o.key !== undefined), { error: 'give cert and key, or pfx (not both)', path: ['cert'] })
  .refine((o) => o.pfx !== undefined || (o.cert !== undefined && o.key !== undefined), { error: 'cert and key are both required', path: ['key'] });

// Every option is checked: this fails to compile when one is missing from the schema.
const EVERY_OPTION_CHECKED: Exclude<keyof XboxServiceAuthOptions, keyof typeof optionsSchema.shape> extends never ? true : never = true;
void EVERY_OPTION_CHECKED;

const tokenAnswerSchema = z.looseObject({
  IssueInstant: z.iso.datetime({ offset: true }),
  NotAfter: z.iso.datetime({ offset: true }),
  Token: z.string().min(1),
  DisplayClaims: z.looseObject({ xui: z.array(z.looseObject({ uhs: z.string().optional() })).optional() }).nullable().optional(),
});

interface Cached {
  token: string;
  /** Local time after which the token is refreshed before use. */
  refreshAt: number;
  /** The user hash of a delegated XSTS token. */
  userHash?: string | undefined;
}

/**
 * A token provider for title services (server to server): give it your Business Partner
 * Certificate and sandbox, and pass it to `MpaClient` as `authorization`.
 *
 * @example
 * const auth = xboxServiceAuth({ cert, key, sandboxId: 'RETAIL' });
 * const client = new MpaClient({ titleId, authorization: auth });
 */
export function xboxServiceAuth(options: XboxServiceAuthOptions): XboxServiceAuth {
  const parsed = parseInput(optionsSchema, options, 'xboxServiceAuth options');
  const tls = checkedTls(parsed);
  const fingerprint = parsed.cert ? new X509Certificate(parsed.cert).fingerprint256 : undefined;
  const notAfter = parsed.cert ? Date.parse(new X509Certificate(parsed.cert).validTo) : undefined;
  const now = parsed.now ?? (() => Date.now());
  // The services refuse a Signature minutes away from their clock: sign with their time.
  const clock = new ServiceClock(now);
  const random: RandomSource = parsed.random ?? Math.random;
  const backoff: TokenBackoff = { ...DEFAULT_TOKEN_BACKOFF, ...parsed.tokenBackoff };
  const heldFlight = <T>() => new HeldFlight<T>(new RefusalHold(backoff, now, random));
  const serviceAuthUrl = parsed.serviceAuthUrl ?? DEFAULT_SERVICE_AUTH_URL;
  const xstsUrl = parsed.xstsUrl ?? DEFAULT_XSTS_URL;
  const relyingParty = parsed.relyingParty ?? 'http://xboxlive.com';
  const sandboxId = parsed.sandboxId;
  const delegationToken = options.delegationToken;

  // One proof key for the life of the provider: it signs the S-token request, the XSTS request
  // and every call, and the tokens are bound to it.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const jwk = publicKey.export({ format: 'jwk' });
  const proofKey = { alg: 'ES256', kty: 'EC', use: 'sig', crv: 'P-256', x: jwk.x, y: jwk.y };

  let sToken: Cached | undefined;
  let xsts: Cached | undefined;
  // Each kind of token has its own request under way and its own held failure: a refused
  // delegation token holds back that user only, a refused certificate everything.
  const sFlight = heldFlight<Cached>();
  const xFlight = heldFlight<Cached>();
  const delegated = new Map<string, { cached?: Cached | undefined; flight: HeldFlight<Cached> }>();

  async function post(kind: 'service token' | 'XSTS token', url: string, body: object, signal: AbortSignal, withCertificate: boolean) {
    if (withCertificate && notAfter !== undefined && clock.now() >= notAfter) {
      throw new MpaAuthorizationError(`the client certificate expired on ${new Date(notAfter).toISOString()}: renew your Business Partner Certificate in Partner Center`, {});
    }
    const bytes = Buffer.from(JSON.stringify(body), 'utf8');
    for (let attempt = 0; ; attempt++) {
      const signedAt = clock.now();
      const signature = signRequest(privateKey, { method: 'POST', pathAndQuery: pathOf(url), authorization: '', body: bytes }, signedAt);
      const headers = { 'Content-Type': 'application/json', 'x-xbl-contract-version': '1', Signature: signature };
      const answer = await postToken(kind, url, bytes, headers, withCertificate ? tls : { ca: tls.ca }, signal);
      const serviceMs = clock.observe(answer.date);
      if (answer.status === 200) {
        const token = tokenAnswerSchema.safeParse(answer.json);
        if (!token.success) throw new MpaAuthorizationError(`the ${kind} answer has an unexpected shape`, { status: 200 });
        return token.data;
      }
      // Refused for the timestamp: the clock is corrected now; sign again, once.
      if (attempt === 0 && answer.status === 403 && refusedForTime(serviceMs, signedAt)) continue;
      throw tokenRefusal(kind, answer.status, answer.json, sandboxId);
    }
  }

  /** Caches a token until shortly before NotAfter, measured with the issuer's own clock so that skew does not matter. */
  function cache(answer: z.infer<typeof tokenAnswerSchema>, userHash?: string): Cached {
    const lifetime = Date.parse(answer.NotAfter) - Date.parse(answer.IssueInstant);
    return { token: answer.Token, refreshAt: now() + lifetime - Math.min(EARLY_MS, lifetime / 2), userHash };
  }

  function serviceToken(signal: AbortSignal, force: boolean): Promise<Cached> {
    if (!force && sToken && now() < sToken.refreshAt) return Promise.resolve(sToken);
    return sFlight.run(signal, async (shared) => {
      const answer = await post('service token', serviceAuthUrl, { Properties: { ProofKey: proofKey }, RelyingParty: 'http://auth.xboxlive.com', TokenType: 'JWT' }, shared, true);
      return (sToken = cache(answer));
    });
  }

  /** An XSTS token; on XErr 0x8015DC1F (expired S-token) gets a new S-token once and asks again. */
  async function xstsToken(signal: AbortSignal, delegation: string | undefined): Promise<Cached> {
    for (let attempt = 0; ; attempt++) {
      const service = await serviceToken(signal, attempt > 0);
      const properties = { ServiceToken: service.token, SandboxId: sandboxId, ...(delegation !== undefined && { DelegationToken: delegation }) };
      try {
        const answer = await post('XSTS token', xstsUrl, { RelyingParty: relyingParty, TokenType: 'JWT', Properties: properties }, signal, false);
        const userHash = delegation === undefined ? '-' : answer.DisplayClaims?.xui?.[0]?.uhs;
        if (!userHash) throw new MpaAuthorizationError('the delegated XSTS answer has no user hash (DisplayClaims.xui[0].uhs)', { status: 200 });
        return cache(answer, userHash);
      } catch (error) {
        if (attempt === 0 && error instanceof MpaAuthorizationError && error.errorCode === hex(XERR_EXPIRED)) {
          if (sToken === service) sToken = undefined;
          continue;
        }
        throw error;
      }
    }
  }

  function fresh(cached: Cached | undefined, request: AuthorizationRequest): cached is Cached {
    if (!cached || now() >= cached.refreshAt) return false;
    // After a 401, refresh only if the refused value is still ours: a hundred calls refused
    // at once cause one refresh, not a hundred.
    return !request.forceRefresh || (request.refused !== undefined && request.refused !== header(cached));
  }

  async function authorize(request: AuthorizationRequest): Promise<{ authorization: string; signature: string }> {
    const signal = request.signal;
    let token: Cached;
    const delegation = delegationToken && request.xuid !== undefined ? await raceSignal(Promise.resolve(delegationToken(request.xuid)), signal) : undefined;
    if (typeof delegation === 'string' && delegation.length > 0) {
      const user = request.xuid!;
      let entry = delegated.get(user);
      if (!entry) {
        if (delegated.size >= MAX_DELEGATED_USERS) delegated.delete(delegated.keys().next().value!);
        delegated.set(user, (entry = { flight: heldFlight<Cached>() }));
      }
      const slot = entry;
      if (refusedNow(slot.cached, request)) slot.cached = undefined;
      token = fresh(slot.cached, request) ? slot.cached : await slot.flight.run(signal, async (shared) => (slot.cached = await xstsToken(shared, delegation)));
    } else {
      if (refusedNow(xsts, request)) xsts = undefined;
      token = fresh(xsts, request) ? xsts : await xFlight.run(signal, async (shared) => (xsts = await xstsToken(shared, undefined)));
    }
    const authorization = header(token);
    const signature = signRequest(privateKey, { method: request.method, pathAndQuery: request.pathAndQuery, authorization, body: request.body }, clock.now());
    return { authorization, signature };
  }

  /**
   * Learns from the service's refusals only: their `Date` is the clock that judged our
   * timestamp, and a call that succeeded needs no correction.
   */
  function observeResponse(response: ObservedResponse): boolean {
    if (response.status !== 401 && response.status !== 403) return false;
    const serviceMs = clock.observe(response.date);
    if (response.status !== 403 || response.signature === undefined) return false;
    return refusedForTime(serviceMs, signatureTime(response.signature));
  }

  const describe = () => ({ sandboxId, certificateFingerprint: fingerprint, tokens: xsts ? 'cached' : 'none', clockOffsetMs: clock.offsetMs });
  const provider = Object.assign((request: AuthorizationRequest) => authorize(request), {
    sandboxId,
    certificateFingerprint: fingerprint,
    observeResponse,
    toJSON: describe,
    [inspect.custom]: () => `XboxServiceAuth ${inspect(describe())}`,
  });
  Object.defineProperty(provider, 'clockOffsetMs', { get: () => clock.offsetMs, enumerable: true });
  return provider as typeof provider & { readonly clockOffsetMs: number };
}

/**
 * True when the service refused exactly the cached token (a 401): it is dead, so it is dropped
 * and callers wait for the refresh (or fail at once with its held failure) instead of sending
 * it again.
 */
function refusedNow(cached: Cached | undefined, request: AuthorizationRequest): boolean {
  return cached !== undefined && request.forceRefresh && request.refused === header(cached);
}

function header(token: Cached): string {
  return `XBL3.0 x=${token.userHash ?? '-'};${token.token}`;
}

function pathOf(url: string): string {
  const parsed = new URL(url);
  return parsed.pathname + parsed.search;
}

function hex(xerr: number): string {
  return `0x${xerr.toString(16).toUpperCase()}`;
}

/** Checks the TLS material once, up front, so that a bad key is a clear error at startup. */
function checkedTls(o: z.output<typeof optionsSchema>): TokenTls {
  const issues: { path: string[]; message: string }[] = [];
  if (o.cert) {
    try {
      new X509Certificate(o.cert);
    } catch {
      issues.push({ path: ['cert'], message: 'is not a PEM or DER X.509 certificate' });
    }
  }
  if (o.key) {
    try {
      createPrivateKey(o.passphrase === undefined ? o.key : { key: o.key, passphrase: o.passphrase });
    } catch {
      issues.push({ path: ['key'], message: 'is not a private key (or its passphrase is wrong)' });
    }
  }
  if (o.pfx) {
    try {
      createSecureContext({ pfx: o.pfx, passphrase: o.passphrase });
    } catch {
      issues.push({ path: ['pfx'], message: 'could not be opened (not PKCS#12, or a wrong passphrase)' });
    }
  }
  if (issues.length) throw new MpaValidationError('xboxServiceAuth options', issues);
  return { cert: o.cert, key: o.key, pfx: o.pfx, passphrase: o.passphrase, ca: o.ca };
}

function tokenRefusal(kind: string, status: number, body: unknown, sandboxId: string): MpaAuthorizationError {
  const xerr = typeof (body as { XErr?: unknown } | undefined)?.XErr === 'number' ? (body as { XErr: number }).XErr : undefined;
  const errorCode = xerr === undefined ? undefined : hex(xerr);
  if (xerr === XERR_SANDBOX) {
    return new MpaAuthorizationError(
      `the certificate is not allowed in sandbox ${sandboxId} (XErr ${errorCode}): use the sandbox your title is configured for in Partner Center (SandboxId is case-sensitive: RETAIL, XDKS.1, ...)`,
      { status, errorCode },
    );
  }
  if (xerr === XERR_EXPIRED) return new MpaAuthorizationError(`the service token expired (XErr ${errorCode}) again right after a new one was issued: check the server clock`, { status, errorCode });
  if (status === 403) {
    return new MpaAuthorizationError(`the ${kind} service refused the request's Signature (403): check that the server clock is within 5 minutes of UTC`, { status });
  }
  return new MpaAuthorizationError(`the ${kind} request was refused (${status}${errorCode ? ` XErr ${errorCode}` : ''})`, { status, errorCode });
}
