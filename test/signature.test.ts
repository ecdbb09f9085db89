/**
 * The Signature header, policy version 1, checked against the documentation with fixed
 * vectors: a known key, time, method, path and body give these exact hashed bytes.
 */
import { createECDH, createHash, createPrivateKey, createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fileTime, signaturePayload, signatureTime, signRequest } from '../src/auth/signature.js';
import { signatureProblem } from '../src/emulator/s2s-verify.js';

// A test-vector key, derived from a fixed phrase: public by design, it protects nothing.
const d = createHash('sha256').update('mpa-sync signature test vector').digest();
const ecdh = createECDH('prime256v1');
ecdh.setPrivateKey(d);
const point = ecdh.getPublicKey(); // 0x04 || x || y
const jwk = { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') };
const privateKey = createPrivateKey({ key: { ...jwk, d: d.toString('base64url') }, format: 'jwk' });
const publicKey = createPublicKey({ key: jwk, format: 'jwk' });

const TIME = Date.parse('2026-01-01T00:00:00Z');
const parts = {
  method: 'put',
  pathAndQuery: '/titles/1234/users/2/activities',
  authorization: 'XBL3.0 x=-;token',
  body: Buffer.from('{"sequenceNumber":"1"}'),
};
// version 00000001 00 | FILETIME 01dc7ab192810000 00 | PUT 00 | path 00 | authorization 00 | body 00
const EXPECTED_PAYLOAD =
  '000000010001dc7ab19281000000505554002f7469746c65732f313233342f75736572732f322f616374697669746965730058424c332e3020783d2d3b746f6b656e007b2273657175656e63654e756d626572223a2231227d00';

describe('Signature policy version 1', () => {
  it('times are FILETIME: 100 ns ticks since 1601-01-01 UTC (not Unix milliseconds)', () => {
    expect(fileTime(TIME)).toBe(134_116_992_000_000_000n);
    expect(fileTime(0)).toBe(116_444_736_000_000_000n);
    expect(fileTime(TIME)).not.toBe(BigInt(TIME));
  });

  it('hashes exactly the documented bytes: version, FILETIME, METHOD, path, Authorization, body, each followed by 0x00', () => {
    expect(signaturePayload(parts, fileTime(TIME)).toString('hex')).toBe(EXPECTED_PAYLOAD);
  });

  it('the header is base64 of version, FILETIME and a 64-byte raw r||s signature that verifies over that payload', () => {
    const header = Buffer.from(signRequest(privateKey, parts, TIME), 'base64');
    expect(header).toHaveLength(76);
    expect(header.subarray(0, 12).toString('hex')).toBe('0000000101dc7ab192810000');
    const signature = header.subarray(12);
    expect(verify('sha256', Buffer.from(EXPECTED_PAYLOAD, 'hex'), { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)).toBe(true);
    // Not DER: a DER reading of the same bytes does not verify.
    expect(() => verify('sha256', Buffer.from(EXPECTED_PAYLOAD, 'hex'), { key: publicKey, dsaEncoding: 'der' }, signature)).toSatisfy(
      (f: () => boolean) => {
        try {
          return f() === false;
        } catch {
          return true;
        }
      },
    );
  });

  it('the time a header was signed at reads back from its FILETIME (what a clock correction compares with the service\'s Date)', () => {
    expect(signatureTime(signRequest(privateKey, parts, TIME))).toBe(TIME);
    expect(signatureTime(signRequest(privateKey, parts, TIME - 10 * 60_000 + 123))).toBe(TIME - 10 * 60_000 + 123);
    expect(signatureTime('AAAA')).toBeUndefined();
  });

  it('signs at most 8192 body bytes', () => {
    const long = Buffer.alloc(10_000, 0x61);
    const cut = signaturePayload({ ...parts, body: long }, 1n);
    expect(cut.equals(signaturePayload({ ...parts, body: long.subarray(0, 8192) }, 1n))).toBe(true);
    expect(cut.length).toBe(signaturePayload({ ...parts, body: undefined }, 1n).length + 8192);
  });

  it("the emulator's own verifier accepts the signer's header and refuses a changed request, a late clock or a DER signature", () => {
    const header = signRequest(privateKey, parts, TIME);
    const received = { ...parts, method: 'PUT' };
    expect(signatureProblem(header, received, publicKey, TIME + 60_000)).toBeUndefined();
    expect(signatureProblem(header, { ...received, body: Buffer.from('{"sequenceNumber":"2"}') }, publicKey, TIME)).toMatch(/does not verify/);
    expect(signatureProblem(header, { ...received, authorization: 'XBL3.0 x=-;other' }, publicKey, TIME)).toMatch(/does not verify/);
    expect(signatureProblem(header, received, publicKey, TIME + 6 * 60_000)).toMatch(/5 minutes/);
    // A header that signed Unix milliseconds instead of FILETIME lands in 1601: refused.
    const msHeader = Buffer.from(header, 'base64');
    msHeader.writeBigUInt64BE(BigInt(TIME), 4);
    expect(signatureProblem(msHeader.toString('base64'), received, publicKey, TIME)).toMatch(/FILETIME/);
    expect(signatureProblem(undefined, received, publicKey, TIME)).toMatch(/no Signature/);
  });
});
