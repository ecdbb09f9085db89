/**
 * The benchmark's yardsticks (bench/truth.ts): if these are wrong, every figure in
 * bench/RESULTS.md is wrong, so they are specified here on small hand-made cases.
 */
import { describe, expect, it } from 'vitest';
import { churn, privacyToggles, type BenchEvent } from '../bench/scenarios.js';
import { leaveDelays, offlineOptimum, p95, publishedTimeline, sameJoinability, staleness, truthTimeline, type LogLine } from '../bench/truth.js';

const A = '2533274800000001';
const B = '2533274800000002';
const C = '2533274800000003';
const alloc = (maxPlayers: number): BenchEvent => ({ t: 0, kind: 'alloc', match: 'm', settings: { connectionString: '10.0.0.1:7777', maxPlayers, joinRestriction: 'Followed' } });
const join = (t: number, xuid: string): BenchEvent => ({ t, kind: 'join', match: 'm', xuid });
const leave = (t: number, xuid: string): BenchEvent => ({ t, kind: 'leave', match: 'm', xuid });
const put = (time: number, xuid: string, currentPlayers: number, extra: Record<string, unknown> = {}, status = 204): LogLine => ({
  time,
  method: 'PUT',
  xuid,
  status,
  body: { connectionString: '10.0.0.1:7777', joinRestriction: 'Followed', maxPlayers: 8, currentPlayers, groupId: 'm', sequenceNumber: String(time + 1), ...extra },
});

describe('the scenario truth', () => {
  it('keeps the last state of each millisecond: a leave and a rejoin in the same ms are no change', () => {
    const truth = truthTimeline([alloc(8), join(0, A), join(0, B), leave(500, B), join(500, B)]);
    expect(truth.get(A)!.map((c) => [c.t, c.state?.currentPlayers])).toEqual([[0, 2]]);
    expect(truth.get(B)!.map((c) => c.t)).toEqual([0]);
  });
});

describe('the offline optimum', () => {
  it('writes a count change alone once per interval, carrying the newest count', () => {
    const truth = truthTimeline([alloc(8), join(0, A), join(1000, B), join(2000, C)]);
    const paced = offlineOptimum(truth, 15_000);
    // A: join, then one refresh at 16 s carrying 3; B: join, one refresh at 17 s; C: join.
    expect(paced).toMatchObject({ writes: 5, puts: 5, deletes: 0 });
    expect(paced.schedule.get(A)!.map((c) => [c.t, c.state?.currentPlayers])).toEqual([
      [0, 1],
      [16_000, 3],
    ]);
    expect(offlineOptimum(truth, 0).writes).toBe(6);
  });

  it('spends nothing on a count that comes back before its deadline', () => {
    const truth = truthTimeline([alloc(8), join(0, A), join(0, B), join(1000, C), leave(5000, C)]);
    // A and B: one PUT each; C: a PUT and a DELETE. The 3 that A and B saw for 4 s never goes out.
    expect(offlineOptimum(truth, 15_000)).toMatchObject({ writes: 4, puts: 3, deletes: 1 });
  });

  it('writes at once when the match becomes full or stops being full', () => {
    const truth = truthTimeline([alloc(2), join(0, A), join(1000, B), leave(3000, B)]);
    const { schedule, writes } = offlineOptimum(truth, 15_000);
    expect(schedule.get(A)!.map((c) => c.t)).toEqual([0, 1000, 3000]);
    expect(writes).toBe(5);
  });

  it('replayed as the service, keeps joinability exact and every count within the interval', () => {
    const scenario = churn();
    const truth = truthTimeline(scenario.events);
    const optimum = offlineOptimum(truth, 15_000);
    const end = scenario.events[scenario.events.length - 1]!.t + 60_000;
    const stale = staleness(truth, optimum.schedule, end);
    expect(Math.max(...stale.joinability)).toBe(0);
    expect(Math.max(...stale.count)).toBeLessThanOrEqual(15_000);
    expect(Math.max(...stale.count)).toBeGreaterThan(0);
    expect(stale.openAtEnd).toBe(0);
  });
});

describe('joinability', () => {
  const base = { connectionString: 'c', joinRestriction: 'Followed', maxPlayers: 4, currentPlayers: 2 };
  it('ignores a count that stays below the maximum, not one that reaches it', () => {
    expect(sameJoinability(base, { ...base, currentPlayers: 3 })).toBe(true);
    expect(sameJoinability(base, { ...base, currentPlayers: 4 })).toBe(false);
    expect(sameJoinability(base, { ...base, joinRestriction: 'InviteOnly' })).toBe(false);
    expect(sameJoinability(base, { ...base, platform: 'Win32' })).toBe(false);
    expect(sameJoinability(base, null)).toBe(false);
    expect(sameJoinability(null, null)).toBe(true);
  });
});

describe('staleness from the log', () => {
  it('measures how long the service showed each wrong answer, 0 ms for a change shown at once', () => {
    const truth = truthTimeline([alloc(8), join(0, A), join(1000, B)]);
    const log = [put(0, A, 1), put(1000, B, 2), put(16_000, A, 2)];
    const stale = staleness(truth, publishedTimeline(log, 0), 20_000);
    expect(stale.joinability).toEqual([0, 0]);
    expect(stale.count).toEqual([15_000]);
    expect(stale.openAtEnd).toBe(0);
  });

  it('ignores refused requests and counts an episode still open at the end', () => {
    const truth = truthTimeline([alloc(8), join(0, A)]);
    const log: LogLine[] = [put(0, A, 1, {}, 429), put(2000, A, 1, {}, 400)];
    const stale = staleness(truth, publishedTimeline(log, 0), 5000);
    expect(stale.joinability).toEqual([5000]);
    expect(stale.openAtEnd).toBe(1);
  });

  it('counts a write that shows something untrue, and a DELETE that comes late', () => {
    const truth = truthTimeline([alloc(8), join(0, A), leave(10_000, A)]);
    const log: LogLine[] = [put(0, A, 1, { joinRestriction: 'Public' }), put(3000, A, 1), { time: 10_400, method: 'DELETE', xuid: A, status: 204, body: { sequenceNumber: '9' } }];
    expect(staleness(truth, publishedTimeline(log, 0), 20_000).joinability).toEqual([3000, 400]);
  });
});

describe('leave delays', () => {
  const del = (time: number, xuid: string, status = 204): LogLine => ({ time, method: 'DELETE', xuid, status, body: { sequenceNumber: String(time + 1) } });

  it('measures each leave until the service holds no activity, 0 ms when the DELETE lands in its millisecond', () => {
    const truth = truthTimeline([alloc(8), join(0, A), join(0, B), leave(5000, A), leave(6000, B)]);
    const log = [put(0, A, 2), put(0, B, 2), del(5000, A), put(5000, B, 1), del(6400, B)];
    expect(leaveDelays(truth, publishedTimeline(log, 0), 10_000)).toEqual({ published: [0, 400], open: 0, overtaken: 0 });
  });

  it('takes a refused DELETE for nothing, and counts a leave unpublished at the end with its duration so far', () => {
    const truth = truthTimeline([alloc(8), join(0, A), leave(5000, A)]);
    const log = [put(0, A, 1), del(5000, A, 429)];
    expect(leaveDelays(truth, publishedTimeline(log, 0), 8000)).toEqual({ published: [3000], open: 1, overtaken: 0 });
  });

  it('counts 0 ms for a leave when the service never showed the player, and sets apart a leave undone before it was published', () => {
    const truth = truthTimeline([alloc(8), join(0, A), join(0, B), leave(1000, A), leave(2000, B), join(3000, B)]);
    // A's join never reached the service; B's leave was never published before B came back.
    const log = [put(0, B, 2), put(3000, B, 1)];
    expect(leaveDelays(truth, publishedTimeline(log, 0), 10_000)).toEqual({ published: [0], open: 0, overtaken: 1 });
  });

  it('privacy-toggles makes every leave the 11th write of its window, even for the offline optimum', () => {
    const scenario = privacyToggles();
    const truth = truthTimeline(scenario.events);
    const { schedule } = offlineOptimum(truth, 15_000);
    const leaves = scenario.events.filter((e): e is Extract<BenchEvent, { xuid: string }> => e.kind === 'leave');
    expect(leaves).toHaveLength(64);
    for (const e of leaves) {
      const writesBefore = schedule.get(e.xuid)!.filter((c) => c.t < e.t && c.t > e.t - 15_000);
      expect(writesBefore).toHaveLength(10);
    }
  });
});

it('p95 is the nearest-rank 95th percentile', () => {
  expect(p95(Array.from({ length: 20 }, (_, i) => i + 1))).toBe(19);
  expect(p95([7])).toBe(7);
  expect(p95([])).toBe(0);
});
