import { describe, expect, it } from 'vitest';
import { MpaClient } from '../src/client.js';
import { MpaValidationError } from '../src/errors.js';
import { activity, TITLE, TOKEN } from './helpers.js';

const ok = activity(1);
const long = (n: number) => 'x'.repeat(n);
type Call = (c: MpaClient) => Promise<unknown>;

// [name, call, the path the error must name, a word from the message]
const cases: [string, Call, string, RegExp][] = [
  ['xuid with letters', (c) => c.getActivity('25332748abc'), 'xuid', /base-10/],
  ['xuid empty', (c) => c.getActivity(''), 'xuid', /base-10/],
  ['xuid zero', (c) => c.getActivity('0'), 'xuid', /at least 1/],
  ['xuid above 2^64-1', (c) => c.getActivity('18446744073709551616'), 'xuid', /2\^64-1/],
  ['xuid negative bigint', (c) => c.getActivity(-5n), 'xuid', /at least 1/],
  ['xuid as number', (c) => c.getActivity(5 as unknown as string), 'xuid', /string or bigint/],
  ['xuid signed string', (c) => c.deleteActivity('-1', { sequenceNumber: 1 }), 'xuid', /base-10/],
  ['connectionString 513 chars', (c) => c.setActivity('1', { ...ok, connectionString: long(513) }), 'connectionString', /512/],
  ['connectionString empty', (c) => c.setActivity('1', { ...ok, connectionString: '' }), 'connectionString', /empty/],
  ['connectionString missing', (c) => c.setActivity('1', { ...ok, connectionString: undefined as unknown as string }), 'connectionString', /string/],
  ['joinRestriction unknown', (c) => c.setActivity('1', { ...ok, joinRestriction: 'Friends' as 'Public' }), 'joinRestriction', /Public|Followed|InviteOnly/],
  ['joinRestriction lower case', (c) => c.setActivity('1', { ...ok, joinRestriction: 'public' as 'Public' }), 'joinRestriction', /Public/],
  ['platform unknown', (c) => c.setActivity('1', { ...ok, platform: 'Dreamcast' as 'XboxOne' }), 'platform', /XboxOne/],
  ['currentPlayers 0', (c) => c.setActivity('1', { ...ok, currentPlayers: 0 }), 'currentPlayers', /at least 1/],
  ['currentPlayers 101', (c) => c.setActivity('1', { ...ok, currentPlayers: 101 }), 'currentPlayers', /at most 100/],
  ['currentPlayers 2.5', (c) => c.setActivity('1', { ...ok, currentPlayers: 2.5 }), 'currentPlayers', /integer/],
  ['currentPlayers string', (c) => c.setActivity('1', { ...ok, currentPlayers: '3' as unknown as number }), 'currentPlayers', /number/],
  ['maxPlayers 1', (c) => c.setActivity('1', { ...ok, maxPlayers: 1 }), 'maxPlayers', /at least 2/],
  ['maxPlayers 101', (c) => c.setActivity('1', { ...ok, maxPlayers: 101 }), 'maxPlayers', /at most 100/],
  ['maxPlayers NaN', (c) => c.setActivity('1', { ...ok, maxPlayers: Number.NaN }), 'maxPlayers', /number/],
  ['groupId 128 chars', (c) => c.setActivity('1', { ...ok, groupId: long(128) }), 'groupId', /128/],
  ['sequenceNumber 0', (c) => c.setActivity('1', { ...ok, sequenceNumber: 0 }), 'sequenceNumber', /at least 1/],
  ['sequenceNumber negative', (c) => c.setActivity('1', { ...ok, sequenceNumber: -1 }), 'sequenceNumber', /at least 1/],
  ['sequenceNumber above 2^64-1', (c) => c.setActivity('1', { ...ok, sequenceNumber: 2n ** 64n }), 'sequenceNumber', /2\^64-1/],
  ['sequenceNumber unsafe number', (c) => c.setActivity('1', { ...ok, sequenceNumber: 2 ** 60 }), 'sequenceNumber', /precision/],
  ['sequenceNumber fraction', (c) => c.deleteActivity('1', { sequenceNumber: 1.5 }), 'sequenceNumber', /integer/],
  ['sequenceNumber hex string', (c) => c.deleteActivity('1', { sequenceNumber: '0x10' }), 'sequenceNumber', /base-10/],
  ['sequenceNumber missing on delete', (c) => c.deleteActivity('1', {} as { sequenceNumber: number }), 'sequenceNumber', /sequenceNumber/],
  ['unknown activity field', (c) => c.setActivity('1', { ...ok, currentplayers: 3 } as typeof ok), 'currentplayers', /currentplayers: unknown key/],
  ['invite with 17 users', (c) => c.sendServerInvite({ sender: '1', invitedUsers: Array.from({ length: 17 }, (_, i) => String(i + 2)) }), 'invitedUsers', /16/],
  ['invite with no users', (c) => c.sendServerInvite({ sender: '1', invitedUsers: [] }), 'invitedUsers', /at least 1/],
  ['invite without sender', (c) => c.sendServerInvite({ invitedUsers: ['2'] } as unknown as { sender: string; invitedUsers: string[] }), 'sender', /string or bigint/],
  ['invite with a bad invited xuid', (c) => c.sendServerInvite({ sender: '1', invitedUsers: ['2', 'x'] }), 'invitedUsers.1', /base-10/],
  ['invite connectionString 513', (c) => c.sendServerInvite({ sender: '1', invitedUsers: ['2'], connectionString: long(513) }), 'connectionString', /512/],
  ['query with no users', (c) => c.queryActivities([]), 'users', /at least 1/],
  ['query with a bad xuid', (c) => c.queryActivities(['1', 'abc']), 'users.1', /base-10/],
  ['recent players: one player', (c) => c.reportRecentPlayerGroups([{ recentPlayers: [{ id: '1' }], timestamp: '2026-01-01T00:00:00Z', encounterType: 'Default' }]), 'recentPlayerGroups.0.recentPlayers', /at least 2/],
  ['recent players: bad encounter', (c) => c.reportRecentPlayerGroups([{ recentPlayers: [{ id: '1' }, { id: '2' }], timestamp: '2026-01-01T00:00:00Z', encounterType: 'Rival' as 'Default' }]), 'recentPlayerGroups.0.encounterType', /Teammate/],
  ['recent players: bad timestamp', (c) => c.reportRecentPlayerGroups([{ recentPlayers: [{ id: '1' }, { id: '2' }], timestamp: 'yesterday', encounterType: 'Default' }]), 'recentPlayerGroups.0.timestamp', /ISO-8601/],
  ['recent players: 21 groups', (c) => c.reportRecentPlayerGroups(Array.from({ length: 21 }, () => ({ recentPlayers: [{ id: '1' }, { id: '2' }], timestamp: '2026-01-01T00:00:00Z', encounterType: 'Default' as const }))), 'recentPlayerGroups', /at most 20/],
];

describe('input validation: MpaValidationError, and no request sent', () => {
  it('has at least 30 cases', () => expect(cases.length).toBeGreaterThanOrEqual(30));

  it.each(cases)('%s', async (_name, call, path, reason) => {
    let requests = 0;
    const client = new MpaClient({
      titleId: TITLE,
      authorization: () => TOKEN,
      baseUrl: 'http://127.0.0.1:9',
      fetch: async () => {
        requests++;
        return new Response(null, { status: 204 });
      },
    });
    const error = await call(client).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MpaValidationError);
    const v = error as MpaValidationError;
    expect(v.code).toBe('VALIDATION');
    const issue = v.issues.find((i) => i.path.join('.') === path) ?? v.issues[0]!;
    expect(issue.path.join('.')).toBe(path);
    expect(v.message).toMatch(reason);
    expect(requests).toBe(0);
  });
});
