/**
 * Who is calling: the built-in check of the `Authorization` header (any well-formed
 * `XBL3.0 x=<userhash>;<token>`, or only the accepted ones), or a hook that replaces it, as the
 * S2S mode does to require a live XSTS token and a valid Signature.
 */
import { Refusal, type CoreRequest } from './answers.js';
import { UNAUTHORIZED_HEADERS } from './www-authenticate.js';

/** The result of a custom Authorization check: who called, or the refusal to answer with. */
export type AuthorizationCheck = { caller: string } | { status: number; errorCode: string; debugMessage: string; headers?: Record<string, string> };

// Checks the start only: a real XSTS token is over a kilobyte, and node has already refused
// control characters in header values.
const AUTH_FORM = /^XBL3\.0 x=[^;\s]+;\S/;
const HASH_START = 'XBL3.0 x='.length;

/** The caller of each request: its user hash, or the hook's answer. */
export class Authorization {
  readonly #hook: ((request: CoreRequest) => AuthorizationCheck) | undefined;
  #tokens: Set<string> | undefined;

  constructor(tokens: readonly string[] | undefined, hook: ((request: CoreRequest) => AuthorizationCheck) | undefined) {
    this.#hook = hook;
    this.setTokens(tokens);
  }

  /** Replaces the accepted header values (`undefined`: any well-formed one). */
  setTokens(tokens: readonly string[] | undefined): void {
    this.#tokens = tokens ? new Set(tokens) : undefined;
  }

  /** The caller (the user hash of the header, or the hook's), or throws the 401 to answer with. */
  callerOf(request: CoreRequest): string {
    if (this.#hook) {
      const check = this.#hook(request);
      if ('caller' in check) return check.caller;
      throw new Refusal(check.status, { errorCode: check.errorCode, debugMessage: check.debugMessage }, check.headers);
    }
    const header = request.headers.authorization;
    if (!header || !AUTH_FORM.test(header)) throw new Refusal(401, { errorCode: 'Unauthorized', debugMessage: 'Authorization must be XBL3.0 x=<userhash>;<token>' }, { ...UNAUTHORIZED_HEADERS.missing });
    if (this.#tokens && !this.#tokens.has(header)) throw new Refusal(401, { errorCode: 'Unauthorized', debugMessage: 'the token is not valid (expired or unknown)' }, { ...UNAUTHORIZED_HEADERS.invalid });
    return header.slice(HASH_START, header.indexOf(';'));
  }
}
