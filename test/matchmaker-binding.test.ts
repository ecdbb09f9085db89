import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { ErrorEvent } from '../src/engine/events.js';
import { bindMatchmaker } from '../src/matchmaker-binding.js';
import { P, rig, settle, type Rig } from './engine-helpers.js';

let r: Rig | undefined;
afterEach(async () => {
  await r?.dispose();
  r = undefined;
});

describe('bindMatchmaker', () => {
  it('maps the default events to groups, joins, leaves, updates and ends', async () => {
    r = await rig();
    const mm = new EventEmitter();
    const unbind = bindMatchmaker(r.sync, mm);
    mm.emit('matchAllocated', { matchId: 'm1', connectionString: 'host:1', maxPlayers: 4 });
    mm.emit('playerJoined', { matchId: 'm1', xuid: P(1) });
    mm.emit('playerJoined', { matchId: 'm1', xuid: P(2) });
    mm.emit('matchSettingsChanged', { matchId: 'm1', joinRestriction: 'InviteOnly' });
    await settle(r.clock, r.sync.flush());
    expect(r.emulator.activity(P(1))).toMatchObject({ groupId: 'm1', currentPlayers: 2, joinRestriction: 'InviteOnly' });
    mm.emit('playerLeft', { matchId: 'm1', xuid: P(2) });
    await settle(r.clock, r.sync.flush());
    expect(r.emulator.activity(P(2))).toBeUndefined();
    mm.emit('matchEnded', { matchId: 'm1' });
    await settle(r.clock, r.sync.flush());
    expect(r.emulator.activities()).toEqual([]);
    expect(r.sync.getGroup('m1')).toBeUndefined();
    unbind();
    expect(mm.listenerCount('playerJoined')).toBe(0);
  });

  it('applies onMatchStarted when a match starts', async () => {
    r = await rig();
    const mm = new EventEmitter();
    bindMatchmaker(r.sync, mm, { onMatchStarted: { joinRestriction: 'InviteOnly' } });
    mm.emit('matchAllocated', { matchId: 'm1', connectionString: 'host:1', maxPlayers: 4 });
    mm.emit('playerJoined', { matchId: 'm1', xuid: P(1) });
    await settle(r.clock, r.sync.flush());
    expect(r.emulator.activity(P(1))?.joinRestriction).toBe('Followed');
    mm.emit('matchStarted', { matchId: 'm1' });
    await settle(r.clock, r.sync.flush());
    expect(r.emulator.activity(P(1))?.joinRestriction).toBe('InviteOnly');
  });

  it('takes custom event names and payload mappings', async () => {
    r = await rig();
    const mm = new EventEmitter();
    bindMatchmaker<{ match: { id: string; addr?: string }; user?: { xuid: string } }>(r.sync, mm, {
      events: { matchAllocated: 'match:ready', playerJoined: 'player:in', playerLeft: 'player:out', matchEnded: 'match:over' },
      toGroup: (e) => ({ groupId: e.match.id, connectionString: e.match.addr!, maxPlayers: 10 }),
      toPlayer: (e) => ({ matchId: e.match.id, xuid: e.user!.xuid }),
      toMatchId: (e) => e.match.id,
    });
    mm.emit('match:ready', { match: { id: 'x', addr: '10.0.0.1:1' } });
    mm.emit('player:in', { match: { id: 'x' }, user: { xuid: P(7) } });
    await settle(r.clock, r.sync.flush());
    expect(r.emulator.activity(P(7))).toMatchObject({ groupId: 'x', connectionString: '10.0.0.1:1', maxPlayers: 10 });
  });

  it('reports bad events as error events and never throws into the matchmaker', async () => {
    r = await rig();
    const errors: ErrorEvent[] = [];
    r.sync.on('error', (e) => errors.push(e));
    const mm = new EventEmitter();
    bindMatchmaker(r.sync, mm);
    expect(() => mm.emit('playerJoined', { matchId: 'nope', xuid: P(1) })).not.toThrow();
    expect(() => mm.emit('matchAllocated', { matchId: 'm', maxPlayers: 4 })).not.toThrow();
    mm.emit('matchAllocated', { matchId: 'ok', connectionString: 'c', maxPlayers: 4 });
    expect(() => mm.emit('playerJoined', { matchId: 'ok' })).not.toThrow();
    expect(() => mm.emit('playerJoined', { matchId: 'ok', xuid: 'abc' })).not.toThrow();
    expect(() => mm.emit('matchEnded', undefined)).not.toThrow();
    expect(errors.map((e) => e.error.code)).toEqual(['USAGE', 'VALIDATION', 'USAGE', 'VALIDATION', 'USAGE']);
    expect(errors[0]!.error.message).toMatch(/unknown match "nope"/);
    expect(errors[2]!.error.message).toMatch(/missing xuid/);
    // Each error event names the match (and player) the bad event named, so it can be traced.
    expect(errors.map((e) => [e.groupId, e.xuid])).toEqual([
      ['nope', P(1)],
      ['m', undefined],
      ['ok', undefined],
      ['ok', 'abc'],
      [undefined, undefined],
    ]);
  });
});
