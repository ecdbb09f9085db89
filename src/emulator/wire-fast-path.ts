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

/** A plainly valid DELETE body's sequence number, as zod would output it; `undefined`: ask zod. */
export function fastDelete(body: unknown): { sequenceNumber: bigint } | undefined {
  if (!isRecord(body)) return undefined;
  const sequenceNumber = fastSequence(body.sequenceNumber);
  return sequenceNumber === undefined ? undefined : { sequenceNumber };
}
