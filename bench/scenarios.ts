/**
 * Seeded matchmaker event streams for the wire benchmark.
 */
import { seededRandom } from '../src/random.js';

export type MatchSettings = { connectionString: string; maxPlayers: number; joinRestriction: 'Public' | 'Followed' | 'InviteOnly' };
export type BenchEvent =
  | { t: number; kind: 'alloc'; match: string; settings: MatchSettings }
  | { t: number; kind: 'join' | 'leave'; match: string; xuid: string }
  | { t: number; kind: 'settings'; match: string; update: Partial<MatchSettings> }
  | { t: number; kind: 'end'; match: string };

export interface Scenario {
  name: string;
  description: string;
  events: BenchEvent[];
}

const xuid = (n: number) => String(2533274800000000n + BigInt(n));
const settings = (i: number, maxPlayers: number): MatchSettings => ({ connectionString: `10.0.0.${i}:7777`, maxPlayers, joinRestriction: 'Followed' });

export function fillAndChurn(seed = 1): Scenario {
  const random = seededRandom(seed);
  const events: BenchEvent[] = [];
  let next = 0;
  const churnEnd = 60_000 + 30 * 60_000;
  for (let m = 0; m < 16; m++) {
    const match = `match-${m}`;
    events.push({ t: 0, kind: 'alloc', match, settings: settings(m, 32) });
    for (let slot = 0; slot < 32; slot++) {
      // Each slot: a first player arrives during the first minute, then sessions of random
      // length follow one another, each replaced by a new player a few seconds later.
      let t = Math.floor(random() * 60_000);
      while (t < churnEnd) {
        const who = xuid(next++);
        events.push({ t, kind: 'join', match, xuid: who });
        const length = 60_000 + Math.floor(random() * 15 * 60_000);
        if (t + length >= churnEnd) break;
        events.push({ t: t + length, kind: 'leave', match, xuid: who });
        t += length + 2000 + Math.floor(random() * 10_000);
      }
    }
    if (m < 2) events.push({ t: 20 * 60_000 + m * 1000, kind: 'settings', match, update: { joinRestriction: 'InviteOnly' } });
    events.push({ t: churnEnd + m * 500, kind: 'end', match });
  }
  return { name: 'fill-and-churn', description: '16 matches of 32 fill over 60 s, 30 min of churn, two go invite-only, all end', events: sortEvents(events) };
}

export function lobbyBurst(seed = 2): Scenario {
  const random = seededRandom(seed);
  const events: BenchEvent[] = [{ t: 0, kind: 'alloc', match: 'lobby', settings: settings(1, 100) }];
  for (let i = 0; i < 100; i++) events.push({ t: Math.floor(random() * 10_000), kind: 'join', match: 'lobby', xuid: xuid(i) });
  events.push({ t: 10_000, kind: 'settings', match: 'lobby', update: { joinRestriction: 'InviteOnly' } });
  return { name: 'lobby-burst', description: 'one 100-player match fills in 10 s and starts (goes invite-only)', events: sortEvents(events) };
}

export function handoff(seed = 3): Scenario {
  const random = seededRandom(seed);
  const events: BenchEvent[] = [];
  // Two servers, modelled as two matches whose players move across in waves of 50.
  for (let s = 0; s < 2; s++) for (let m = 0; m < 2; m++) events.push({ t: 0, kind: 'alloc', match: `s${s}-m${m}`, settings: settings(s * 2 + m, 100) });
  for (let i = 0; i < 200; i++) events.push({ t: Math.floor(random() * 5000), kind: 'join', match: `s0-m${i % 2}`, xuid: xuid(i) });
  for (let wave = 0; wave < 4; wave++) {
    const t0 = 60_000 + wave * 60_000;
    const from = wave % 2 === 0 ? 's0' : 's1';
    const to = wave % 2 === 0 ? 's1' : 's0';
    for (let i = 0; i < 200; i++) {
      const t = t0 + Math.floor(random() * 10_000);
      events.push({ t, kind: 'leave', match: `${from}-m${i % 2}`, xuid: xuid(i) });
      events.push({ t: t + 500 + Math.floor(random() * 2000), kind: 'join', match: `${to}-m${i % 2}`, xuid: xuid(i) });
    }
  }
  for (let m = 0; m < 2; m++) events.push({ t: 330_000, kind: 'end', match: `s0-m${m}` });
  return { name: 'handoff', description: '200 players move between two servers in four waves, then the match ends', events: sortEvents(events) };
}

/**
 * Seats that empty and refill within seconds: a leave and the replacement's join usually land in
 * the same 15 s window, so every other member's count goes back to what is already published.
 * Eight matches keep 10 of 12 seats (never full); four keep 8 of 8, so each leave and join also
 * flips the match between full and not full, which friends must see at once.
 */
export function churn(seed = 4): Scenario {
  const random = seededRandom(seed);
  const events: BenchEvent[] = [];
  let next = 0;
  const end = 10 * 60_000;
  for (let m = 0; m < 12; m++) {
    const match = `churn-${m}`;
    const full = m >= 8;
    const seats = full ? 8 : 10;
    events.push({ t: 0, kind: 'alloc', match, settings: settings(m, full ? 8 : 12) });
    for (let seat = 0; seat < seats; seat++) {
      let t = Math.floor(random() * 20_000);
      while (t < end) {
        const who = xuid(10_000 + next++);
        events.push({ t, kind: 'join', match, xuid: who });
        const length = 30_000 + Math.floor(random() * 150_000);
        if (t + length >= end) break;
        events.push({ t: t + length, kind: 'leave', match, xuid: who });
        t += length + 1000 + Math.floor(random() * 7000);
      }
    }
    events.push({ t: end + m * 500, kind: 'end', match });
  }
  return { name: 'churn', description: '12 matches for 10 min, each leave refilled 1 to 8 s later; 4 of them stay full, so each leave and join flips joinability', events: sortEvents(events) };
}

/**
 * A host who cannot make up their mind, then a lobby that empties: in each of 8 matches (one
 * every 30 s), 8 players join within half a second, the host toggles privacy (Followed and
 * InviteOnly in turn) 9 times 1.5 s apart, and everyone leaves within 15 s of joining. Every
 * player's join and 9 toggles are the 10 writes their window allows (10 per 15 s), so the leave
 * is the 11th: it must still be published at once (the last write of every window is kept for a
 * leave). The matches have 16 seats, so the joins change only the count.
 */
export function privacyToggles(seed = 5): Scenario {
  const random = seededRandom(seed);
  const events: BenchEvent[] = [];
  for (let m = 0; m < 8; m++) {
    const match = `privacy-${m}`;
    const t0 = m * 30_000;
    events.push({ t: t0, kind: 'alloc', match, settings: settings(m, 16) });
    const members = Array.from({ length: 8 }, (_, p) => xuid(20_000 + m * 8 + p));
    for (const who of members) events.push({ t: t0 + Math.floor(random() * 500), kind: 'join', match, xuid: who });
    for (let k = 0; k < 9; k++) events.push({ t: t0 + 2000 + k * 1500, kind: 'settings', match, update: { joinRestriction: k % 2 === 0 ? 'InviteOnly' : 'Followed' } });
    // The last toggle lands at t0 + 14 s; the leaves follow within the next 900 ms.
    for (const who of members) events.push({ t: t0 + 14_100 + Math.floor(random() * 800), kind: 'leave', match, xuid: who });
    events.push({ t: t0 + 16_000, kind: 'end', match });
  }
  return { name: 'privacy-toggles', description: '8 matches of 8: the host toggles privacy 9 times within 15 s, then everyone leaves, each leave the 11th write of its window', events: sortEvents(events) };
}

function sortEvents(events: BenchEvent[]): BenchEvent[] {
  return events.map((e, i) => [e, i] as const).sort((a, b) => a[0].t - b[0].t || a[1] - b[1]).map(([e]) => e);
}
