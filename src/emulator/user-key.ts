/**
 * The key of a user in the emulator's tables. A fresh string from each request's path would
 * be hashed, and compared character by character, at every lookup (measured: about 1,000
 * instructions of a 77,000-instruction PUT for one lookup, three lookups per accepted write); a
 * number hashes and compares in a few. Every real xuid is below 2^53 (they start 2533...), so
 * it is exact as a number; a larger one keeps its string. A number and a string never collide
 * in a Map, so the two kinds of key can share one.
 */

/** A user's key: the xuid as a number when it is exact as one, else the xuid itself. */
export type UserKey = number | string;

/**
 * The key of an xuid in its canonical spelling (1 to 19 decimal digits, no leading zero,
 * which is always within 1..2^64-1), or `undefined` for any other text: one pass over the
 * digits both checks the spelling and makes the number, on every request that names a user.
 */
export function canonicalUserKey(text: string): UserKey | undefined {
  const length = text.length;
  if (length === 0 || length > 19) return undefined;
  let c = text.charCodeAt(0);
  if (c < 49 || c > 57) return undefined; // 1-9
  let number = c - 48;
  for (let i = 1; i < length; i++) {
    c = text.charCodeAt(i);
    if (c < 48 || c > 57) return undefined; // 0-9
    number = number * 10 + (c - 48);
  }
  // Each step is exact while the value stays below 2^53; a value past it rounds to at least
  // 2^53, so this comparison also tells a rounded one.
  return number <= Number.MAX_SAFE_INTEGER ? number : text;
}

/** The key of a canonical xuid (decimal digits, no leading zero, as the id checks leave it). */
export function userKeyOf(xuid: string): UserKey {
  return canonicalUserKey(xuid) ?? xuid;
}
