import { describe, expect, it } from 'vitest';
import { changeKind, sameContent } from '../src/engine/desired.js';

const a = { connectionString: 'c', joinRestriction: 'Followed' as const, currentPlayers: 3, maxPlayers: 4, groupId: 'g' };

describe('what a change means to a friend', () => {
  it('equal content (every field but the sequence number) is no change', () => {
    expect(sameContent(a, { ...a })).toBe(true);
    expect(changeKind(a, { ...a })).toBe('none');
  });
  it('a count that stays below max players is a count change', () => {
    expect(changeKind(a, { ...a, currentPlayers: 2 })).toBe('count');
  });
  it('reaching or leaving max players changes joinability', () => {
    expect(changeKind(a, { ...a, currentPlayers: 4 })).toBe('joinability');
    expect(changeKind({ ...a, currentPlayers: 4 }, a)).toBe('joinability');
    expect(changeKind({ ...a, currentPlayers: 5 }, { ...a, currentPlayers: 4 })).toBe('count'); // still full
  });
  it('settings, and the activity appearing or going, change joinability', () => {
    for (const patch of [{ joinRestriction: 'InviteOnly' as const }, { connectionString: 'd' }, { maxPlayers: 8 }, { platform: 'XboxOne' as const }, { groupId: 'h' }])
      expect(changeKind(a, { ...a, ...patch })).toBe('joinability');
    expect(changeKind(null, a)).toBe('joinability');
    expect(changeKind(a, null)).toBe('joinability');
  });
});
