/**
 * A throw-away certificate authority for the S2S emulator, made in memory at start: a CA, the
 * token endpoint's server certificate (127.0.0.1, ::1, localhost, and the names it is reached by) and a client certificate that
 * stands in for a Business Partner Certificate. It exists for the life of one emulator; no
 * private key is ever written to the repository.
 *
 * X.509 is written by hand with a small DER encoder (EC P-256, ecdsa-with-SHA256) rather than
 * with a certificate package: the ones on npm need a global `Reflect` polyfill, which a library
 * that runs inside studios' servers must not install.
 */
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP, isIPv4, isIPv6 } from 'node:net';

/** A certificate and its private key, both PEM. */
export interface PemPair {
  cert: string;
  key: string;
}

/** A CA that can issue server and client certificates. */
export interface TestAuthority {
  /** The CA certificate, PEM: trust it to trust what it issued. */
  readonly ca: string;
  /**
   * Issues a TLS server certificate for 127.0.0.1, ::1 and localhost, and for `names` too
   * (addresses or host names the endpoints are reached by).
   */
  serverCertificate(names?: readonly string[]): PemPair;
  /** Issues a client certificate (a stand-in Business Partner Certificate). */
  clientCertificate(options?: { commonName?: string; notBefore?: Date; notAfter?: Date }): PemPair;
}

// ---- a minimal DER writer ---------------------------------------------------------------
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}
const seq = (...c: Buffer[]) => tlv(0x30, ...c);
const set = (...c: Buffer[]) => tlv(0x31, ...c);
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer, unused = 0) => tlv(0x03, Buffer.from([unused]), b);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
function integer(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && b[1]! < 0x80) b = b.subarray(1);
  return tlv(0x02, b[0]! >= 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}
function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}
function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const compact = iso.slice(0, 19).replace(/[-:T]/g, '') + 'Z';
  // UTCTime up to 2049, GeneralizedTime after (RFC 5280 4.1.2.5).
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(compact.slice(2))) : tlv(0x18, Buffer.from(compact));
}
const name = (cn: string) => seq(set(seq(oid('2.5.4.3'), utf8(cn))));
const extension = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

function certificate(input: {
  subject: string;
  issuer: string;
  publicKey: KeyObject;
  signingKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  extensions: Buffer[];
}): string {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive, 16 bytes
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))), // v3
    integer(serial),
    ECDSA_SHA256,
    name(input.issuer),
    seq(time(input.notBefore), time(input.notAfter)),
    name(input.subject),
    input.publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...input.extensions)),
  );
  const signature = sign('sha256', tbs, input.signingKey); // DER-encoded ECDSA, as X.509 wants
  const der = seq(tbs, ECDSA_SHA256, bits(signature));
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** The 4 or 16 bytes of an IPv4 or IPv6 address (`::` shorthand and a trailing IPv4 part included). */
function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  // A trailing IPv4 part (`::ffff:10.0.0.1`) is two groups: written as two zero groups here,
  // its bytes copied over them at the end.
  const dotted = /:(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  const text = dotted ? `${ip.slice(0, dotted.index + 1)}0:0` : ip;
  const groups = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const [head, rest] = text.split('::') as [string, string | undefined];
  const before = groups(head);
  const after = rest === undefined ? [] : groups(rest);
  const words = [...before, ...new Array<number>(8 - before.length - after.length).fill(0), ...after];
  const bytes = Buffer.alloc(16);
  words.forEach((word, i) => bytes.writeUInt16BE(word, i * 2));
  if (dotted) ipBytes(dotted[1]!).copy(bytes, 12);
  return bytes;
}

/**
 * The subjectAltName entries of the server certificate: loopback always, plus `names` (IP
 * addresses as IP entries, anything else as DNS names), without repeats.
 */
function subjectAltNames(names: readonly string[]): Buffer {
  const entries = new Set(['127.0.0.1', '::1', 'localhost', ...names.map((n) => n.replace(/^\[|\]$/g, '').replace(/%.*$/, '')).filter((n) => n !== '')]);
  return seq(...[...entries].map((n) => (isIP(n) ? tlv(0x87, ipBytes(n)) : tlv(0x82, Buffer.from(n.toLowerCase(), 'ascii')))));
}

function keyPair(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

const pkcs8 = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }).toString();

/**
 * Makes a new CA, valid from one hour ago for `days` days (default 2). Its name carries a
 * random suffix, so two authorities never vouch for each other's certificates.
 */
export function createTestAuthority(days = 2, now = Date.now()): TestAuthority {
  const notBefore = new Date(now - 3_600_000);
  const notAfter = new Date(now + days * 86_400_000);
  const caName = `mpa-sync emulator test CA ${randomBytes(4).toString('hex')}`;
  const caKeys = keyPair();
  const ca = certificate({
    subject: caName,
    issuer: caName,
    publicKey: caKeys.publicKey,
    signingKey: caKeys.privateKey,
    notBefore,
    notAfter,
    extensions: [
      extension('2.5.29.19', true, seq(bool(true))), // basicConstraints: cA
      extension('2.5.29.15', true, bits(Buffer.from([0x06]), 1)), // keyUsage: keyCertSign, cRLSign
    ],
  });

  function issue(subject: string, extensions: Buffer[], validity: { notBefore?: Date | undefined; notAfter?: Date | undefined } = {}): PemPair {
    const keys = keyPair();
    const cert = certificate({
      subject,
      issuer: caName,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      notBefore: validity.notBefore ?? notBefore,
      notAfter: validity.notAfter ?? notAfter,
      extensions: [
        extension('2.5.29.19', true, seq()), // basicConstraints: not a CA
        extension('2.5.29.15', true, bits(Buffer.from([0x88]), 3)), // keyUsage: digitalSignature, keyAgreement
        ...extensions,
      ],
    });
    return { cert, key: pkcs8(keys.privateKey) };
  }

  return {
    ca,
    serverCertificate: (names = []) =>
      issue('127.0.0.1', [
        extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage: serverAuth
        extension('2.5.29.17', false, subjectAltNames(names)), // subjectAltName
      ]),
    clientCertificate: (options = {}) =>
      issue(options.commonName ?? 'mpa-sync emulator business partner', [extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.2')))], options),
  };
}
