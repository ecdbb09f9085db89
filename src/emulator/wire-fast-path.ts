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

// A JSON string of printable ASCII without escapes: every byte but `"` and `\` from space to `~`.
const PLAIN = '[ !#-\\[\\]-~]';
/**
 * One member of a plainly valid PUT body in compact JSON: a known key and a value that passes
 * its check in {@link fastActivity} (a sequence number as a canonical string of up to 19
 * digits, or a number of up to 15, which is always a safe integer; player counts in range).
 */
const MEMBER =
  `"(?:connectionString":"${PLAIN}{1,${LIMITS.connectionStringMax}}"` +
  '|joinRestriction":"(?:Public|Followed|InviteOnly)"' +
  '|sequenceNumber":(?:"[1-9][0-9]{0,18}"|[1-9][0-9]{0,14})' +
  '|currentPlayers":(?:[1-9][0-9]?|100)' +
  '|maxPlayers":(?:[2-9]|[1-9][0-9]|100)' +
  `|groupId":"${PLAIN}{0,${LIMITS.groupIdMax}}"` +
  `|platform":"(?:${[...PLATFORMS].join('|')})")`;
const PLAIN_ACTIVITY = new RegExp(`^\\{${MEMBER}(?:,${MEMBER})*\\}$`);
const QUOTE = 0x22;
const ZERO = 0x30;
const NINE = 0x39;
// Up to 15 digits, a sequence number is exact as a double: its bigint is made from the number.
const MAX_EXACT_DIGITS = 15;

/**
 * A PUT activity body read without JSON.parse, for the emulator's hot path: exactly what
 * `fastActivity(JSON.parse(text))` gives, or `undefined` to leave the body to them. It reads
 * the compact form clients send (`JSON.stringify`'s, keys in any order): one object of known
 * keys, no whitespace, each value plainly valid (see MEMBER), a string of printable ASCII
 * without escapes. Anything else (an escape, a space, a fraction, a nested value, an unknown
 * key, a character past ASCII, a value out of range, bad JSON) goes the way of every other
 * body. Why: one regular expression checks the whole body in V8's compiled matcher, then a walk
 * that checks nothing takes the values out; JSON.parse looks every key up in V8's string
 * table, then the checks read each field again, and `BigInt(string)` parses the text a third
 * time. Measured in-process on a client's body: 127 ns, against 455 ns for JSON.parse and
 * the checks, and 208 ns for the loop over the bytes in JavaScript that this replaced.
 */
export function scanActivity(text: string): FastActivity | undefined {
  if (!PLAIN_ACTIVITY.test(text)) return undefined;
  // From here the text is known well-formed: each member is told by its key's first letter
  // (and, for `c`, by where the key ends), and every value is known valid.
  const last = text.length - 1;
  let i = 1; // a key's opening quote
  let connectionString: string | undefined, joinRestriction: FastActivity['joinRestriction'] | undefined, sequenceNumber: bigint | undefined;
  let currentPlayers: number | undefined, maxPlayers: number | undefined, groupId: string | undefined, platform: FastActivity['platform'];
  for (;;) {
    const letter = text.charCodeAt(i + 1);
    let keyLength: number;
    switch (letter) {
      case 0x63: // c: connectionString or currentPlayers
        keyLength = text.charCodeAt(i + 17) === QUOTE ? 16 : 14;
        break;
      case 0x6a: // j
        keyLength = 15;
        break;
      case 0x73: // s
        keyLength = 14;
        break;
      case 0x6d: // m
        keyLength = 10;
        break;
      case 0x67: // g
        keyLength = 7;
        break;
      default: // p
        keyLength = 8;
    }
    const value = i + keyLength + 3; // past `"key":`
    if (text.charCodeAt(value) === QUOTE) {
      const start = value + 1;
      const end = text.indexOf('"', start);
      if (keyLength === 16) connectionString = text.slice(start, end);
      else if (letter === 0x6a) joinRestriction = end - start === 6 ? 'Public' : end - start === 8 ? 'Followed' : 'InviteOnly';
      else if (letter === 0x73) sequenceNumber = end - start <= MAX_EXACT_DIGITS ? BigInt(numberOf(text, start, end)) : BigInt(text.slice(start, end));
      else if (letter === 0x67) groupId = text.slice(start, end);
      else platform = text.slice(start, end) as FastActivity['platform'];
      i = end + 1;
    } else {
      const end = digitsEnd(text, value);
      const number = numberOf(text, value, end);
      if (letter === 0x73) sequenceNumber = BigInt(number);
      else if (letter === 0x6d) maxPlayers = number;
      else currentPlayers = number;
      i = end;
    }
    if (i === last) break;
    i++; // the comma
  }
  // A repeated key has kept its last value, as JSON.parse keeps it.
  if (connectionString === undefined || joinRestriction === undefined || sequenceNumber === undefined) return undefined;
  return { connectionString, joinRestriction, sequenceNumber, currentPlayers, maxPlayers, groupId, platform };
}

/** The number the digits from `start` to `end` spell (at most 15: checked already). */
function numberOf(text: string, start: number, end: number): number {
  let number = 0;
  for (let i = start; i < end; i++) number = number * 10 + (text.charCodeAt(i) - ZERO);
  return number;
}

/** Where the digits from `at` end. */
function digitsEnd(text: string, at: number): number {
  let i = at;
  for (let c = text.charCodeAt(i); c >= ZERO && c <= NINE; c = text.charCodeAt(++i));
  return i;
}

/** A plainly valid DELETE body's sequence number, as zod would output it; `undefined`: ask zod. */
export function fastDelete(body: unknown): { sequenceNumber: bigint } | undefined {
  if (!isRecord(body)) return undefined;
  const sequenceNumber = fastSequence(body.sequenceNumber);
  return sequenceNumber === undefined ? undefined : { sequenceNumber };
}
