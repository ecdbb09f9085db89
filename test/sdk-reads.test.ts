/**
 * Reads that match the real service, as the official SDK's own tests show it answering
 * (fixtures in test/fixtures/, from shared/sdk-facts.md).
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { MpaClient } from '../src/index.js';
import { startEmulator, type Emulator } from '../src/emulator/index.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const answering = (status: number, body: string | null, seen: { headers?: Headers } = {}) =>
  new MpaClient({
    titleId: 1234,
    baseUrl: 'http://127.0.0.1:9',
    authorization: () => 'XBL3.0 x=1;t',
    locale: 'en-GB',
    fetch: async (_input, init) => {
      seen.headers = new Headers(init?.headers);
      return new Response(body, { status });
    },
  });

let emulator: Emulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

describe("reading the SDK's mock query answer", () => {
  it('keeps only this title, accepts a user without connectionString, and reads zeros', async () => {
    const [one, two] = await answering(200, fixture('sdk-query-answer.json')).queryActivities(['1', '2']);
    expect(one!.activities).toHaveLength(1); // the titleId 0 activity is another title's: dropped
    expect(one!.activities![0]).toMatchObject({ titleId: 1234, sequenceNumber: '0', connectionString: 'connectionString', joinRestriction: 'Public', maxPlayers: 10, currentPlayers: 2, groupId: 'groupId', platform: 'XboxOne' });
    expect(two!.activities).toHaveLength(1);
    expect(two!.activities![0]!.connectionString).toBeUndefined();
    expect(two!.activities![0]).toMatchObject({ joinRestriction: 'Public', maxPlayers: 2, currentPlayers: 1, platform: 'IOS' });
  });

  it('matches platform and joinRestriction case-insensitively, and keeps unknown values as sent', async () => {
    const body = JSON.stringify({ connectionString: 'c', joinRestriction: 'inviteonly', platform: 'iOS' });
    expect(await answering(200, body).getActivity('1')).toMatchObject({ joinRestriction: 'InviteOnly', platform: 'IOS' });
    const odd = JSON.stringify({ joinRestriction: 'Friends', platform: 'Dreamcast' });
    expect(await answering(200, odd).getActivity('1')).toMatchObject({ joinRestriction: 'Friends', platform: 'Dreamcast' });
  });

  it('an activity with neither connectionString nor joinRestriction is still an activity', async () => {
    expect(await answering(200, JSON.stringify({ titleId: 1234, maxPlayers: 0 })).getActivity('1')).toMatchObject({ titleId: 1234, maxPlayers: 0 });
  });

  it('a user whose activities are missing has none', async () => {
    const body = JSON.stringify({ userActivities: [{ userId: '1' }] });
    expect(await answering(200, body).queryActivities(['1'])).toEqual([{ xuid: '1', activities: [] }]);
  });

  it('any 2xx is success, with or without a body', async () => {
    expect(await answering(200, null).getActivity('1')).toBeNull();
    expect(await answering(200, '').queryActivities(['1'])).toEqual([{ xuid: '1', activities: [] }]);
    await answering(202, null).setActivity('1', { connectionString: 'c', joinRestriction: 'Public', sequenceNumber: 1 });
    await answering(201, '{"ok":true}').deleteActivity('1', { sequenceNumber: 2 });
  });

  it('sends Accept-Language when a locale is set, and not otherwise', async () => {
    const seen: { headers?: Headers } = {};
    await answering(204, null, seen).setActivity('1', { connectionString: 'c', joinRestriction: 'Public', sequenceNumber: 1 });
    expect(seen.headers!.get('accept-language')).toBe('en-GB');
    let headers: Headers | undefined;
    const plain = new MpaClient({ titleId: 1, baseUrl: 'http://127.0.0.1:9', authorization: () => 'XBL3.0 x=1;t', fetch: async (_i, init) => ((headers = new Headers(init?.headers)), new Response(null, { status: 204 })) });
    await plain.setActivity('1', { connectionString: 'c', joinRestriction: 'Public', sequenceNumber: 1 });
    expect(headers!.has('accept-language')).toBe(false);
  });
});

describe('the emulator accepts what the SDK sends', () => {
  it("an SDK-shaped PUT (numeric sequence number, platform 'iOS') is stored with the canonical platform", async () => {
    emulator = await startEmulator({ port: 0 });
    const response = await fetch(`${emulator.url}/titles/1234/users/2533274800000001/activities`, {
      method: 'PUT',
      headers: { Authorization: 'XBL3.0 x=1;t', 'Content-Type': 'application/json; charset=utf-8', 'x-xbl-contract-version': '1' },
      body: fixture('sdk-set-activity-body.json'),
    });
    expect(response.status).toBe(204);
    expect(emulator.activity('2533274800000001')).toMatchObject({ connectionString: 'mockConnectionString', maxPlayers: 10, platform: 'IOS' });
  });
});
