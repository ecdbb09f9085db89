/**
 * The emulator's own check of a `Signature` header (policy version 1). Written apart from the
 * client's signer (src/auth/signature.ts) on purpose: if both shared one code path, a mistake
 * in it would sign and verify consistently and no test would notice.
 */
import { verify, type KeyObject } from 'node:crypto';

/** How far a signature's timestamp may be from the emulator's clock, as the service allows. */
export const SIGNATURE_SKEW_MS = 5 * 60_000;

const TICKS_PER_MS = 10_000n;
const TICKS_1601_TO_1970 = 11_644_473_600_000n * TICKS_PER_MS;
const HEADER_BYTES = 4 + 8 + 64;
const MAX_BODY = 8192;

/** The parts of a request a signature covers, as the emulator received them. */
export interface ReceivedRequest {
  method: string;
  pathAndQuery: string;
  /** The Authorization header as received; `''` when there was none. */
  authorization: string;
  body: Buffer;
}

/** Why a signature did not verify; `undefined` when it did. */
export function signatureProblem(header: string | undefined, request: ReceivedRequest, key: KeyObject, nowMs: number): string | undefined {
  if (!header) return 'the request has no Signature header';
  const raw = Buffer.from(header, 'base64');
  if (raw.length !== HEADER_BYTES || raw.toString('base64') !== header.trim()) {
    return `the Signature header must be base64 of ${HEADER_BYTES} bytes (version, FILETIME, 64-byte r||s signature)`;
  }
  const version = raw.readUInt32BE(0);
  if (version !== 1) return `unknown signature policy version ${version}`;
  const ticks = raw.readBigUInt64BE(4);
  const signedAt = Number((ticks - TICKS_1601_TO_1970) / TICKS_PER_MS);
  if (!(Math.abs(signedAt - nowMs) <= SIGNATURE_SKEW_MS)) return 'the Signature timestamp is more than 5 minutes from the service clock (is it a FILETIME?)';

  // Lay the signed bytes out in one buffer, field by field.
  const method = Buffer.from(request.method.toUpperCase());
  const path = Buffer.from(request.pathAndQuery);
  const auth = Buffer.from(request.authorization);
  const bodyLength = Math.min(request.body.length, MAX_BODY);
  const signed = Buffer.alloc(5 + 9 + method.length + 1 + path.length + 1 + auth.length + 1 + bodyLength + 1);
  let at = signed.writeUInt32BE(version, 0) + 1;
  at = signed.writeBigUInt64BE(ticks, at) + 1;
  at += method.copy(signed, at) + 1;
  at += path.copy(signed, at) + 1;
  at += auth.copy(signed, at) + 1;
  request.body.copy(signed, at, 0, bodyLength);
  const ok = verify('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, raw.subarray(12));
  return ok ? undefined : 'the Signature does not verify with the proof key of this token';
}
