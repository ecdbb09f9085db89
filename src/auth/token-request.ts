/**
 * One POST to an Xbox token service over node:https (mutual TLS when a client certificate is
 * given), and the translation of its failures into errors that say what to do. Nothing from
 * the request (certificate, key, token, signature) is ever put into an error.
 */
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { MpaAuthorizationError, MpaTransportError } from '../errors.js';

/** TLS material for a token request. */
export interface TokenTls {
  cert?: string | Buffer | undefined;
  key?: string | Buffer | undefined;
  pfx?: string | Buffer | undefined;
  passphrase?: string | undefined;
  ca?: string | Buffer | (string | Buffer)[] | undefined;
}

/** A token service's answer. */
export interface TokenAnswer {
  status: number;
  /** The parsed JSON body, or `undefined` when it was empty or not JSON. */
  json: unknown;
  /** The answer's `Date` header (the token service's clock), if it had one. */
  date: string | undefined;
}

const MAX_ANSWER_BYTES = 64 * 1024;

// Errors with which a TLS client refuses the *server's* certificate.
const UNTRUSTED_SERVER = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
// Errors with which a connection ends when the server refuses *our* certificate.
const DROPPED = new Set(['ECONNRESET', 'EPIPE', 'EPROTO', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED']);

/** What the request is, for error messages: `service token` or `XSTS token`. */
export type TokenKind = 'service token' | 'XSTS token';

/** POSTs `body` to `url`; resolves with any HTTP answer, rejects with a typed error otherwise. */
export function postToken(kind: TokenKind, url: string, body: Buffer, headers: Record<string, string>, tls: TokenTls, signal: AbortSignal): Promise<TokenAnswer> {
  return new Promise<TokenAnswer>((resolve, reject) => {
    const options: RequestOptions = {
      method: 'POST',
      headers: { ...headers, 'Content-Length': String(body.length) },
      signal,
      agent: false, // token calls are rare; a fresh connection never meets a stale pooled one
      ...tls,
    };
    let req;
    try {
      req = httpsRequest(url, options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) res.destroy(new Error(`the ${kind} answer is larger than ${MAX_ANSWER_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('error', (cause) => reject(failure(kind, cause, signal)));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json, date: res.headers.date });
        });
      });
    } catch (cause) {
      // Unusable TLS material fails here (createSecureContext); OpenSSL's messages hold no key bytes.
      reject(new MpaAuthorizationError(`the certificate or key could not be used for the ${kind} request: ${codeOf(cause) ?? 'invalid TLS material'}`, {}));
      return;
    }
    req.on('error', (cause) => reject(failure(kind, cause, signal)));
    req.end(body);
  });
}

function codeOf(cause: unknown): string | undefined {
  const code = (cause as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function failure(kind: TokenKind, cause: unknown, signal: AbortSignal): Error {
  if (signal.aborted) return signal.reason instanceof Error ? signal.reason : new Error('aborted');
  const code = codeOf(cause) ?? (cause instanceof Error && /socket hang up/i.test(cause.message) ? 'ECONNRESET' : undefined);
  // The cause is kept only as its code: a TLS error object carries the peer certificate.
  const safeCause = code ? Object.assign(new Error(code), { code }) : undefined;
  if (code && UNTRUSTED_SERVER.has(code)) {
    return new MpaAuthorizationError(
      `the ${kind} endpoint's certificate is not trusted (${code}): against the emulator pass ca: emulator.s2s.ca; otherwise check the machine's CA store and the endpoint URL`,
      { cause: safeCause },
    );
  }
  if (kind === 'service token' && code && (DROPPED.has(code) || code.startsWith('ERR_SSL_'))) {
    return new MpaAuthorizationError(
      `the service token endpoint dropped the connection after the TLS handshake (${code}): the client certificate was not accepted. Check that cert and key (or pfx) are your Business Partner Certificate and its key, that it has not expired, and that it is configured for your publisher in Partner Center`,
      { cause: safeCause },
    );
  }
  return new MpaTransportError('network', `the ${kind} request failed on the network: ${code ?? 'connection error'}`, { cause: safeCause });
}
