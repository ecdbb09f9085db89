/**
 * What a player's activity should be, and how a change matters to friends. Pure functions.
 */
import type { ActivityFields } from '../schemas.js';

/** An activity's content: every field but the sequence number. */
export type ActivityContent = Omit<ActivityFields, 'sequenceNumber'>;

/** Why a request was sent. */
export type SendReason = 'join' | 'settings' | 'count' | 'keepalive' | 'leave';

/** Request priorities: lower is more urgent. */
export const PRIORITY = { leave: 0, settings: 1, count: 2 } as const;
/** One of {@link PRIORITY}'s values. */
export type Priority = (typeof PRIORITY)[keyof typeof PRIORITY];

/** Whether two contents are equal in every field but the sequence number. */
export function sameContent(a: ActivityContent | null, b: ActivityContent | null): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  return (
    a.currentPlayers === b.currentPlayers &&
    a.maxPlayers === b.maxPlayers &&
    a.connectionString === b.connectionString &&
    a.joinRestriction === b.joinRestriction &&
    a.groupId === b.groupId &&
    a.platform === b.platform
  );
}

/** Whether a friend could take a seat: the match is not full. */
function hasRoom(a: ActivityContent): boolean {
  return (a.currentPlayers ?? 1) < (a.maxPlayers ?? Number.POSITIVE_INFINITY);
}

/**
 * How going from `published` to `desired` matters to a friend deciding whether to join:
 * `none` (equal), `count` (only the count moved, and not across full), `joinability`
 * (anything else, including the activity appearing or going).
 */
export function changeKind(published: ActivityContent | null, desired: ActivityContent | null): 'none' | 'count' | 'joinability' {
  if (sameContent(published, desired)) return 'none';
  if (published === null || desired === null) return 'joinability';
  const countOnly =
    published.maxPlayers === desired.maxPlayers &&
    published.connectionString === desired.connectionString &&
    published.joinRestriction === desired.joinRestriction &&
    published.groupId === desired.groupId &&
    published.platform === desired.platform;
  return countOnly && hasRoom(published) === hasRoom(desired) ? 'count' : 'joinability';
}
