/**
 * The `WWW-Authenticate` challenge on the emulator's 401 answers. HTTP requires one on every
 * 401 (RFC 9110, 11.6.1), and the service's contract is that a 401 means "get a new token" and
 * that an expired token's 401 says so in this header: so every 401 carries the challenge, an
 * unknown or refused token adds `error="invalid_token"`, an expired one `error="token_expired"`.
 */

/** The challenge itself: a missing or malformed Authorization gets only this. */
export const CHALLENGE = 'XBL3.0 realm="xboxlive.com"';

/** Headers of each kind of 401 (shared, frozen: they are merged into each answer, never changed). */
export const UNAUTHORIZED_HEADERS = Object.freeze({
  missing: Object.freeze({ 'www-authenticate': CHALLENGE }),
  invalid: Object.freeze({ 'www-authenticate': `${CHALLENGE}, error="invalid_token"` }),
  expired: Object.freeze({ 'www-authenticate': `${CHALLENGE}, error="token_expired"` }),
});
