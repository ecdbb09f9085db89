/**
 * Hand-written checks of the well-formed PUT and DELETE activity bodies, for the emulator's hot
 * path: a body every field of which is plainly valid is accepted here without zod (about 2 µs
 * a request). Anything else, an error, a `null`, an `iOS`, a numeric string with a leading
 * zero, returns `undefined`, and the zod schemas decide: they alone produce the documented 400
 * messages. So what is accepted, and what every refusal says, is exactly what zod says; this
 * only answers "yes" sooner, never "no".
 */
import { LIMITS } from '../schemas.js';

/** A PUT body as the emulator stores it (the output of its zod wire schema). */
export interface FastActivity {
  connectionString: string;
  joinRestriction: 'Public' | 'Followed' | 'InviteOnly';
  sequenceNumber: bigint;
  currentPlayers?: number | undefined;
  maxPlayers?: number | undefined;
  groupId?: string | undefined;
  platform?: 'Android' | 'IOS' | 'Nintendo' | 'PlayStation' | 'Scarlett' | 'Win32' | 'WindowsOneCore' | 'XboxOne' | undefined;
}

const JOIN_RESTRICTIONS = new Set(['Public', 'Followed', 'InviteOnly']);
// Canonical spellings only: other cases (the SDK's `iOS`) take zod's case-insensitive path.
const PLATFORMS = new Set(['Android', 'IOS', 'Nintendo', 'PlayStation', 'Scarlett', 'Win32', 'WindowsOneCore', 'XboxOne']);
/**
 * Whether `text` is 1 to 19 decimal digits without a leading zero: always within 1..2^64-1.
 * A loop rather than a regular expression: it runs twice on every write (the xuid and the
 * sequence number), and the loop is cheaper.
 */
export function isCanonicalUlong(text: string): boolean {
  const length = text.length;
  if (length === 0 || length > 19) return false;
  let c = text.charCodeAt(0);
  if (c < 49 || c > 57) return false; // 1-9
  for (let i = 1; i < length; i++) {
    c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false; // 0-9
  }
  return true;
}

/** The sequence number of a plainly valid value, or `undefined` to let zod decide. */
function fastSequence(value: unknown): bigint | undefined {
  if (typeof value === 'string') return isCanonicalUlong(value) ? BigInt(value) : undefined;
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 1 ? BigInt(value) : undefined;
  return undefined;
}

function isRecord(body: unknown): body is Record<string, unknown> {
  return typeof body === 'object' && body !== null && !Array.isArray(body);
}

function optionalInt(value: unknown, min: number, max: number): boolean {
  return value === undefined || (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max);
}

/** A plainly valid PUT activity body, as zod would output it; `undefined`: ask zod. */
export function fastActivity(body: unknown): FastActivity | undefined {
  if (!isRecord(body)) return undefined;
  const { connectionString, joinRestriction, currentPlayers, maxPlayers, groupId, platform } = body;
  if (typeof connectionString !== 'string' || connectionString.length < 1 || connectionString.length > LIMITS.connectionStringMax) return undefined;
  if (typeof joinRestriction !== 'string' || !JOIN_RESTRICTIONS.has(joinRestriction)) return undefined;
  if (!optionalInt(currentPlayers, LIMITS.currentPlayersMin, LIMITS.currentPlayersMax)) return undefined;
  if (!optionalInt(maxPlayers, LIMITS.maxPlayersMin, LIMITS.maxPlayersMax)) return undefined;
  if (groupId !== undefined && (typeof groupId !== 'string' || groupId.length > LIMITS.groupIdMax)) return undefined;
  if (platform !== undefined && (typeof platform !== 'string' || !PLATFORMS.has(platform))) return undefined;
  const sequenceNumber = fastSequence(body.sequenceNumber);
  if (sequenceNumber === undefined) return undefined;
  return {
    connectionString,
    joinRestriction: joinRestriction as FastActivity['joinRestriction'],
    sequenceNumber,
    currentPlayers: currentPlayers as number | undefined,
    maxPlayers: maxPlayers as number | undefined,
    groupId: groupId as string | undefined,
    platform: platform as FastActivity['platform'],
  };
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const ZERO = 0x30;
const NINE = 0x39;
// Past 15 digits an integer may not be exact as a double: JSON.parse decides those.
const MAX_INTEGER_DIGITS = 15;
const KEYS = ['connectionString', 'joinRestriction', 'sequenceNumber', 'currentPlayers', 'maxPlayers', 'groupId', 'platform'].map((key) => Buffer.from(key, 'latin1'));
const [CONNECTION_STRING, JOIN_RESTRICTION, SEQUENCE_NUMBER, CURRENT_PLAYERS, MAX_PLAYERS, GROUP_ID, PLATFORM] = KEYS as [Buffer, Buffer, Buffer, Buffer, Buffer, Buffer, Buffer];

function keyIs(bytes: Uint8Array, at: number, key: Buffer): boolean {
  for (let i = 0; i < key.length; i++) if (bytes[at + i] !== key[i]) return false;
  return true;
}

/**
 * A PUT activity body read from its bytes, for the emulator's hot path: exactly what
 * `fastActivity(JSON.parse(text))` gives, without JSON.parse. `text` is what the bytes decode
 * to. It reads only the compact form clients send (`JSON.stringify`'s): one object of known
 * keys, no whitespace, each value a string of printable ASCII without escapes or an unsigned
 * integer of at most 15 digits. Anything else (an escape, a space, a fraction, a nested value,
 * an unknown key, a byte past ASCII, bad JSON) returns `undefined`, and JSON.parse and the
 * checks decide, as for every other body. Why: JSON.parse looks keys up in V8's string table
 * and allocates a parser stack on every call; a loop over the bytes costs half as much.
 */
export function scanActivity(bytes: Uint8Array, text: string): FastActivity | undefined {
  const n = bytes.length;
  // Every byte is checked below to be ASCII, so byte offsets are also the text's offsets.
  if (n < 2 || n !== text.length || bytes[0] !== OPEN_BRACE || bytes[n - 1] !== CLOSE_BRACE) return undefined;
  let i = 1;
  let connectionString: unknown, joinRestriction: unknown, sequenceNumber: unknown, currentPlayers: unknown, maxPlayers: unknown, groupId: unknown, platform: unknown;
  for (;;) {
    // The key, told by its first letter and its length (where its closing quote is), then
    // compared in full: no loop over the key's letters to find its end.
    if (bytes[i] !== QUOTE) return undefined;
    const keyStart = i + 1;
    let key: Buffer;
    switch (bytes[keyStart]) {
      case 0x63: // c
        key = bytes[keyStart + 16] === QUOTE ? CONNECTION_STRING : CURRENT_PLAYERS;
        break;
      case 0x6a: // j
        key = JOIN_RESTRICTION;
        break;
      case 0x73: // s
        key = SEQUENCE_NUMBER;
        break;
      case 0x6d: // m
        key = MAX_PLAYERS;
        break;
      case 0x67: // g
        key = GROUP_ID;
        break;
      case 0x70: // p
        key = PLATFORM;
        break;
      default:
        return undefined;
    }
    i = keyStart + key.length;
    if (bytes[i] !== QUOTE || bytes[i + 1] !== COLON || !keyIs(bytes, keyStart, key)) return undefined;
    i += 2;
    // The value: printable ASCII without escapes between quotes, or a small unsigned integer.
    let value: string | number;
    const first = bytes[i]!;
    if (first === QUOTE) {
      const start = ++i;
      for (; i < n; i++) {
        const c = bytes[i]!;
        if (c === QUOTE) break;
        if (c < 0x20 || c > 0x7e || c === 0x5c) return undefined; // control, past ASCII, backslash
      }
      if (i >= n) return undefined;
      value = text.slice(start, i);
      i++;
    } else if (first >= ZERO && first <= NINE) {
      const start = i;
      let number = 0;
      for (; i < n; i++) {
        const c = bytes[i]!;
        if (c < ZERO || c > NINE) break;
        number = number * 10 + (c - ZERO);
      }
      // A leading zero or too many digits: JSON.parse decides (a fraction or an exponent
      // fails the separator check below).
      if ((first === ZERO && i - start > 1) || i - start > MAX_INTEGER_DIGITS) return undefined;
      value = number;
    } else {
      return undefined;
    }
    if (key === CONNECTION_STRING) connectionString = value;
    else if (key === JOIN_RESTRICTION) joinRestriction = value;
    else if (key === SEQUENCE_NUMBER) sequenceNumber = value;
    else if (key === CURRENT_PLAYERS) currentPlayers = value;
    else if (key === MAX_PLAYERS) maxPlayers = value;
    else if (key === GROUP_ID) groupId = value;
    else platform = value;
    const separator = bytes[i];
    if (separator === CLOSE_BRACE) {
      if (i !== n - 1) return undefined;
      break;
    }
    if (separator !== COMMA) return undefined;
    i++;
  }
  // A repeated key has kept its last value, as JSON.parse keeps it. The same checks as for a
  // parsed body decide the rest.
  return fastActivity({ connectionString, joinRestriction, sequenceNumber, currentPlayers, maxPlayers, groupId, platform });
}

/** A plainly valid DELETE body's sequence number, as zod would output it; `undefined`: ask zod. */
export function fastDelete(body: unknown): { sequenceNumber: bigint } | undefined {
  if (!isRecord(body)) return undefined;
  const sequenceNumber = fastSequence(body.sequenceNumber);
  return sequenceNumber === undefined ? undefined : { sequenceNumber };
}
