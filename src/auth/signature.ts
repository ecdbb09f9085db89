/**
 * The `Signature` header of Xbox services, policy version 1 (ES256, body cut to 8192 bytes),
 * exactly as the S2S documentation describes it. Kept apart from the token logic so that it
 * can be checked against the documentation with fixed vectors (test/signature.test.ts).
 */
import { sign, type KeyObject } from 'node:crypto';

/** Signature policy version 1: its number and the most body bytes it signs. */
export const SIGNATURE_POLICY = { version: 1, maxBodyBytes: 8192 } as const;

// 100 ns ticks between 1601-01-01 and 1970-01-01 (the Windows FILETIME epoch offset).
const FILETIME_UNIX_EPOCH = 116_444_736_000_000_000n;

/**
 * A Unix time in milliseconds as a Windows FILETIME: 100 ns ticks since 1601-01-01 UTC.
 * (Signing `Date.now()` milliseconds instead is the most common mistake in public code.)
 */
export function fileTime(unixMs: number): bigint {
  return FILETIME_UNIX_EPOCH + BigInt(Math.floor(unixMs)) * 10_000n;
}

/**
 * The Unix time in ms a `Signature` header value says it was signed at (its FILETIME), or
 * `undefined` when the value is too short to be one. Reads only the public timestamp.
 */
export function signatureTime(header: string): number | undefined {
  const raw = Buffer.from(header, 'base64');
  if (raw.length < 12) return undefined;
  return Number((raw.readBigUInt64BE(4) - FILETIME_UNIX_EPOCH) / 10_000n);
}

/** What one signature covers. */
export interface SignedParts {
  /** HTTP method; upper-cased before signing. */
  method: string;
  /** Path and query of the URL, without scheme or host (`/titles/1/users/2/activities`). */
  pathAndQuery: string;
  /** The Authorization header value; empty on the token calls, which carry none. */
  authorization: string;
  /** The body bytes exactly as sent (never a re-serialised string form). */
  body: Uint8Array | undefined;
}

/**
 * The exact bytes hashed for a signature: version (4 bytes BE), FILETIME (8 bytes BE),
 * method, path and query, Authorization, body cut to 8192 bytes, each followed by one 0x00
 * byte (policy 1 names no extra headers, so none appear).
 */
export function signaturePayload(parts: SignedParts, ticks: bigint): Buffer {
  const version = Buffer.alloc(4);
  version.writeUInt32BE(SIGNATURE_POLICY.version);
  const time = Buffer.alloc(8);
  time.writeBigUInt64BE(ticks);
  const body = parts.body ? Buffer.from(parts.body.buffer, parts.body.byteOffset, Math.min(parts.body.byteLength, SIGNATURE_POLICY.maxBodyBytes)) : Buffer.alloc(0);
  const zero = Buffer.alloc(1);
  return Buffer.concat([
    version, zero,
    time, zero,
    Buffer.from(parts.method.toUpperCase(), 'utf8'), zero,
    Buffer.from(parts.pathAndQuery, 'utf8'), zero,
    Buffer.from(parts.authorization, 'utf8'), zero,
    // Policy 1 names no extra headers: with no values there is nothing (and no separator) here,
    // as in the implementations that talk to the real service.
    body, zero,
  ]);
}

/**
 * Signs a request with the proof key: ECDSA P-256 over SHA-256 of {@link signaturePayload},
 * raw r‖s (64 bytes, not DER). Returns the header value,
 * `base64(version (4 bytes BE) ‖ FILETIME (8 bytes BE) ‖ signature (64 bytes))`.
 */
export function signRequest(privateKey: KeyObject, parts: SignedParts, unixMs: number): string {
  const ticks = fileTime(unixMs);
  // sign('sha256', payload) hashes the payload once and signs that digest.
  const signature = sign('sha256', signaturePayload(parts, ticks), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const header = Buffer.alloc(12);
  header.writeUInt32BE(SIGNATURE_POLICY.version, 0);
  header.writeBigUInt64BE(ticks, 4);
  return Buffer.concat([header, signature]).toString('base64');
}
