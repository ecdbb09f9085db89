/**
 * What a production server meets: each behaviour below was reproduced against the engine
 * before v3 and fails there.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { MpaClient } from '../src/client.js';
import { ActivitySync } from '../src/engine/activity-sync.js';
import { MpaAuthorizationError } from '../src/errors.js';
import type { ErrorEvent, RecoveredEvent, RetryEvent, SupersededEvent } from '../src/engine/events.js';
import { xboxSequenceNumber } from '../src/sequence.js';
import { P, rig, settle, type Rig } from './engine-helpers.js';
import { TITLE } from './helpers.js';

let r: Rig | undefined;
afterEach(async () => {
  await r?.dispose();
  r = undefined;
});

async function start(...args: Parameters<typeof rig>) {
  r = await rig(...args);
  return r;
}

const settings = { groupId: 'm', connectionString: '203.0.113.7:7777?m=1', maxPlayers: 8, joinRestriction: 'Followed' as const };
const activity = { connectionString: 'console:1', joinRestriction: 'Followed' as const, currentPlayers: 1, maxPlayers: 4 };

describe('a superseded write is never resent with the same number', () => {
  it('a join refused as stale is sent once; the player rests in idle, flush resolves, an event and stats() say so', async () => {
    const { sync, clock, client, writesOf } = await start();
    // The player's console (or another server) wrote with a number an hour ahead.
    await client.setActivity(P(1), { ...activity, sequenceNumber: xboxSequenceNumber(Date.now() + 3_600_000) });
    const superseded: SupersededEvent[] = [];
    sync.on('superseded', (e) => superseded.push(e));
    const match = sync.group(settings);
    match.join(P(1));
    await settle(clock, sync.flush());
    await clock.tickAsync(300_000);
    expect(writesOf(P(1)).filter((w) => w.method === 'PUT').map((w) => w.status)).toEqual([204, 400]);
    expect(sync.playerState(P(1))).toBe('idle');
    expect(superseded).toEqual([{ xuid: P(1), groupId: 'm', method: 'PUT' }]);
    expect(sync.stats().superseded).toBe(1);
    // The next change is a new write, with a new number.
    match.update({ joinRestriction: 'InviteOnly' });
    await settle(clock, sync.flush());
    const puts = writesOf(P(1)).filter((w) => w.method === 'PUT');
    expect(puts).toHaveLength(3);
    expect(puts[2]!.seq!).toBeGreaterThan(puts[1]!.seq!);
  });
});

describe('sequence numbers stay with the clock', () => {
  it('changes coalesced away take no number: 1,000 join/leave toggles leave the members within a few units of the clock', async () => {
    const { sync, clock, writesOf } = await start();
    const match = sync.group(settings);
    match.join(P(1));
    await settle(clock, sync.flush());
    for (let i = 0; i < 1000; i++) {
      match.join(P(2));
      match.leave(P(2));
      if (i % 100 === 0) await clock.tickAsync(1);
    }
    await settle(clock, sync.flush());
    match.update({ joinRestriction: 'InviteOnly' }); // a write that does leave
    await settle(clock, sync.flush());
    const lastPut = writesOf(P(1)).at(-1)!;
    const lead = lastPut.seq! - xboxSequenceNumber(Date.now());
    // At most one more than the clock per write actually sent for P(1) (a few), never ~2,000.
    expect(writesOf(P(1)).length).toBeLessThanOrEqual(11);
    expect(lead).toBeLessThanOrEqual(BigInt(writesOf(P(1)).length));
  });

  it('a paced write carries the number of its change, so a newer server’s join written meanwhile wins', async () => {
    const { sync, clock, client, emulator } = await start();
    const match = sync.group(settings);
    match.join(P(1));
    match.join(P(2));
    await settle(clock, sync.flush());
    match.leave(P(2)); // a count change for P(1): paced 15 s
    await clock.tickAsync(5_000);
    // P(1) moved to server B, which writes its join now; server A has not heard yet.
    await client.setActivity(P(1), { ...activity, connectionString: 'server-b', sequenceNumber: xboxSequenceNumber(Date.now()) });
    await settle(clock, sync.flush());
    expect(emulator.activity(P(1))).toMatchObject({ connectionString: 'server-b' });
    expect(sync.stats().superseded).toBe(1);
  });
});

describe('close() tells the truth', () => {
  it('two close() calls at once resolve with the same result, naming every activity left; a flush that close ended names who was unsettled', async () => {
    const { sync, clock, emulator } = await start();
    const match = sync.group(settings);
    for (let i = 1; i <= 3; i++) match.join(P(i));
    await settle(clock, sync.flush());
    emulator.core.handle = async () => ({ kind: 'hang' });
    match.update({ joinRestriction: 'InviteOnly' });
    const flushed = sync.flush();
    const first = sync.close({ timeoutMs: 2000 });
    const second = sync.close({ timeoutMs: 2000 });
    const [a, b, f] = await settle(clock, Promise.all([first, second, flushed]), 60_000, 100);
    const everyone = [1, 2, 3].map((i) => ({ xuid: P(i), groupId: 'm' }));
    expect(a.undeleted).toEqual(expect.arrayContaining(everyone));
    expect(b).toEqual(a);
    expect(f.unsettled.map((u) => u.xuid).sort()).toEqual([P(1), P(2), P(3)]);
  });

  it('close() releases everything it kept per player', async () => {
    const { sync, clock } = await start();
    const matches = [0, 1, 2, 3, 4].map((g) => sync.group({ ...settings, groupId: `m${g}`, maxPlayers: 100 }));
    for (let i = 1; i <= 500; i++) matches[i % 5]!.join(P(i));
    await settle(clock, sync.flush());
    for (let i = 1; i <= 250; i++) matches[i % 5]!.leave(P(i));
    await settle(clock, sync.flush());
    await settle(clock, sync.close());
    expect(sync.stats()).toMatchObject({ players: 0, retained: { players: 0, sequences: 0, budgets: 0 } });
  });
});

describe('a leave is never held back by the budget', () => {
  it('a host who toggles privacy 9 times in 15 s, then leaves: the DELETE goes out within 1 s', async () => {
    const { sync, clock, writesOf } = await start();
    const match = sync.group(settings);
    match.join(P(1));
    await settle(clock, sync.flush());
    for (let i = 0; i < 9; i++) {
      match.update({ joinRestriction: i % 2 === 0 ? 'InviteOnly' : 'Followed' });
      await clock.tickAsync(1000);
    }
    const leftAt = Date.now();
    match.leave(P(1));
    await clock.tickAsync(1000);
    const del = writesOf(P(1)).find((w) => w.method === 'DELETE');
    expect(del?.status).toBe(204);
    expect(del!.time - leftAt).toBeLessThanOrEqual(1000);
  });
});

describe('an outage is reported once, and its end', () => {
  it('an unreachable service: retry events carry the cause, one error after errorAfterFailures, one recovered when writes succeed again', async () => {
    const { sync, clock, emulator } = await start({ sync: { errorAfterFailures: 3 } });
    const handle = emulator.core.handle.bind(emulator.core);
    let down = true;
    emulator.core.handle = async (request) => (down ? { kind: 'reset' } : handle(request));
    const retries: RetryEvent[] = [];
    const errors: ErrorEvent[] = [];
    const recovered: RecoveredEvent[] = [];
    sync.on('retry', (e) => retries.push(e));
    sync.on('error', (e) => errors.push(e));
    sync.on('recovered', (e) => recovered.push(e));
    const match = sync.group(settings);
    match.join(P(1));
    match.join(P(2));
    await clock.tickAsync(120_000);
    expect(retries.length).toBeGreaterThan(4);
    expect(retries.every((e) => e.cause === 'TRANSPORT' && e.message.length > 0)).toBe(true);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ error: { code: 'TRANSPORT' }, failures: 3 });
    down = false;
    await settle(clock, sync.flush(), 600_000, 1000);
    expect(recovered).toHaveLength(1);
    expect(recovered[0]!.failures).toBeGreaterThanOrEqual(3);
    expect(errors).toHaveLength(1);
  });

  it('a token refused for good: one shared wait for every player, not one token request per player attempt; one error', async () => {
    const { sync: _unused, clock, emulator } = await start();
    let tokenRequests = 0;
    let refusing = true;
    const client = new MpaClient({
      titleId: TITLE,
      fetch: emulator.fetch,
      authorization: () => {
        tokenRequests++;
        if (refusing) throw new MpaAuthorizationError('the XSTS service refused the token request (403)', { status: 403 });
        return 'XBL3.0 x=1;token';
      },
    });
    const sync = new ActivitySync({ client, concurrency: 16 });
    const errors: ErrorEvent[] = [];
    sync.on('error', (e) => errors.push(e));
    const match = sync.group({ ...settings, maxPlayers: 100 });
    for (let i = 1; i <= 100; i++) match.join(P(i));
    await clock.tickAsync(20_000);
    // One wave of at most `concurrency` requests, then a few shared retries with a growing wait.
    expect(tokenRequests).toBeLessThanOrEqual(16 + 16 * 6);
    expect(errors).toHaveLength(1);
    refusing = false;
    await settle(clock, sync.flush(), 3_600_000, 1000);
    expect(emulator.activity(P(100))).toMatchObject({ currentPlayers: 100 });
    await settle(clock, sync.close());
  });

  it('NODE_DEBUG=mpa-sync logs requests and retries, with no token', () => {
    const script = fileURLToPath(new URL('./fixtures/debug-run.ts', import.meta.url));
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, NODE_DEBUG: 'mpa-sync' }, encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/MPA-SYNC \d+: PUT 2533274800000001 204 join/);
    expect(run.stderr).toMatch(/MPA-SYNC \d+: PUT 2533274800000001 retry 1/);
    expect(run.stderr).not.toContain('secret');
    const quiet = spawnSync(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, NODE_DEBUG: '' }, encoding: 'utf8', timeout: 60_000 });
    expect(quiet.stderr).not.toMatch(/MPA-SYNC/);
  });
});

describe('a request says what changed', () => {
  it('the match filling is a count change that alters joinability; a count within the room does not; a settings change is settings', async () => {
    const { sync, clock, requests } = await start({ sync: { countRefreshIntervalMs: 0 } });
    const match = sync.group({ ...settings, maxPlayers: 3 });
    match.join(P(1));
    await settle(clock, sync.flush());
    match.join(P(2)); // 2/3: room left
    await settle(clock, sync.flush());
    match.join(P(3)); // 3/3: full
    await settle(clock, sync.flush());
    match.update({ joinRestriction: 'InviteOnly' });
    await settle(clock, sync.flush());
    const ofP1 = requests.filter((q) => q.xuid === P(1)).map((q) => [q.reason, q.joinability]);
    expect(ofP1).toEqual([
      ['join', true],
      ['count', false],
      ['count', true],
      ['settings', true],
    ]);
  });
});
