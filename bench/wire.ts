/**
 * The wire benchmark: the same event streams through mpa-sync, a naive hand-written client and
 * an SDK-style retrying client, against the emulator with the documented rate limits, on a
 * fake clock (hours of play in seconds, the same figures every run).
 */
import { install } from '@sinonjs/fake-timers';
import { ActivitySync, MpaClient, MpaError, MpaThrottledError, xboxSequenceNumber } from '../src/index.js';
import { seededRandom } from '../src/random.js';
import { EmulatorCore, inProcessFetch } from '../src/emulator/index.js';
import type { BenchEvent, Scenario } from './scenarios.js';
import { activityContent, leaveDelays, MatchBook, offlineOptimum, p95, publishedTimeline, sameContent, staleness, truthTimeline } from './truth.js';

interface Contender {
  apply(event: BenchEvent): void;
  failed(): number;
  close(): Promise<void>;
}

/** The count pacing mpa-sync runs with and the offline optimum is computed for (the default). */
export const COUNT_REFRESH_MS = 15_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** mpa-sync with defaults. */
function mpaSync(client: MpaClient): Contender {
  const sync = new ActivitySync({ client, random: seededRandom(11), countRefreshIntervalMs: COUNT_REFRESH_MS });
  let closeFailures = 0;
  return {
    apply(e) {
      if (e.kind === 'alloc') sync.group({ groupId: e.match, ...e.settings });
      else if (e.kind === 'join') sync.getGroup(e.match)!.join(e.xuid);
      else if (e.kind === 'leave') sync.getGroup(e.match)!.leave(e.xuid);
      else if (e.kind === 'settings') sync.getGroup(e.match)!.update(e.update);
      // Caught: a rejection here would be unhandled and end the measurement.
      else sync.getGroup(e.match)!.close().catch(() => closeFailures++);
    },
    failed: () => sync.stats().failed + closeFailures,
    close: async () => void (await sync.close({ timeoutMs: 60_000 })),
  };
}

/** Fan out every change to every affected player at once, with a per-request retry policy. */
function fanOut(client: MpaClient, retry: (send: () => Promise<void>, xuid: string) => Promise<void>): Contender {
  const matches = new MatchBook();
  // Strictly increasing per user, on the SDK's scale (what a hand-written client would do).
  const lastSequence = new Map<string, bigint>();
  const stamp = (xuid: string) => {
    const last = lastSequence.get(xuid);
    const fromClock = xboxSequenceNumber(Date.now());
    const next = last !== undefined && fromClock <= last ? last + 1n : fromClock;
    lastSequence.set(xuid, next);
    return next;
  };
  let failed = 0;
  const send = (xuid: string) => {
    const activity = matches.activityOf(xuid);
    const sequenceNumber = stamp(xuid);
    const call = activity
      ? () => client.setActivity(xuid, { ...(activity as { connectionString: string; joinRestriction: 'Followed' }), sequenceNumber })
      : () => client.deleteActivity(xuid, { sequenceNumber });
    retry(call, xuid).catch(() => failed++);
  };
  return {
    apply(e) {
      for (const xuid of matches.apply(e)) send(xuid);
    },
    failed: () => failed,
    close: async () => undefined,
  };
}

/** What a studio writes by hand: on a 429, wait Retry-After and resend the same request. */
function naive(client: MpaClient): Contender {
  return fanOut(client, async (send) => {
    for (;;) {
      try {
        return await send();
      } catch (error) {
        if (!(error instanceof MpaThrottledError)) throw error;
        await sleep(error.retryAfterMs ?? 1000);
      }
    }
  });
}

/** The official SDK's HTTP retry policy (mpa-facts.md). */
function sdkStyle(client: MpaClient): Contender {
  const random = seededRandom(12);
  const waiting = new Map<string, number>(); // endpoint -> throttled until
  return fanOut(client, async (send, xuid) => {
    const start = Date.now();
    for (let attempt = 0; ; attempt++) {
      const until = waiting.get(xuid);
      if (until !== undefined && until > Date.now()) throw new Error('fail fast: endpoint throttled');
      try {
        return await send();
      } catch (error) {
        const status = error instanceof MpaError ? error.status : undefined;
        const retryable = status === undefined ? error instanceof MpaError && error.code === 'TRANSPORT' : [408, 429, 500, 502, 503, 504].includes(status);
        if (!retryable) throw error;
        let delay = Math.min(60_000, 2 ** (attempt + 1) * 1000 * (0.8 + 0.4 * random()));
        if (status === 500) delay = Math.max(delay, 10_000);
        if (error instanceof MpaThrottledError && error.retryAfterMs !== undefined) {
          delay = Math.max(delay, error.retryAfterMs * (1 + 0.2 * random()));
          waiting.set(xuid, Date.now() + delay);
        }
        if (Date.now() + delay - start > 20_000) throw error;
        await sleep(delay);
        waiting.delete(xuid);
      }
    }
  });
}

export const CONTENDERS = { 'mpa-sync': mpaSync, naive, 'sdk-style': sdkStyle } as const;

export interface WireResult {
  scenario: string;
  contender: string;
  /** Every request the emulator saw until the service matched the truth (or the limit). */
  requests: number;
  /** The offline optimum's writes for the same events and pacing. */
  optimum: number;
  throttled: number;
  failed: number;
  /** Episodes of a wrong answer to "can I join?", and their p95 and longest duration. */
  joinabilityEpisodes: number;
  joinabilityP95S: number;
  joinabilityMaxS: number;
  /** Episodes of a wrong player count, and their p95 and longest duration. */
  countEpisodes: number;
  countP95S: number;
  countMaxS: number;
  /** Episodes still wrong when the run stopped (counted with their duration so far). */
  openAtEnd: number;
  /** Leaves measured (those the player did not undo first), and the longest until the service showed it. */
  leaves: number;
  leaveP100S: number;
  convergeS: number | null;
}

/** How long after the last event a contender may take to match the truth before it counts as never. */
export const CONVERGE_LIMIT_MS = 5 * 60_000;

/**
 * Plays the scenario's events at their exact (simulated) times through the contender, then
 * waits until the service matches the truth, then replays the emulator's log against the
 * scenario's truth (bench/truth.ts).
 */
export async function runWire(scenario: Scenario, name: keyof typeof CONTENDERS): Promise<WireResult> {
  const clock = install({ now: Date.parse('2026-01-01T00:00:00Z'), toNotFake: ['nextTick', 'queueMicrotask'] });
  try {
    // The replay needs every request: the emulator's log is bounded (10,000 by default), so this
    // one keeps far more than any scenario sends, and the replay checks that nothing was dropped.
    const emulator = new EmulatorCore({ logSize: 10_000_000 });
    const client = new MpaClient({ titleId: 1234567890, baseUrl: 'http://127.0.0.1:9', authorization: () => 'XBL3.0 x=1;bench', fetch: inProcessFetch(emulator) });
    const contender = CONTENDERS[name](client);
    const book = new MatchBook();
    const players = new Set<string>();
    const start = Date.now();
    const elapsed = () => Date.now() - start;
    for (const e of scenario.events) {
      if (e.t > elapsed()) await clock.tickAsync(e.t - elapsed());
      if (e.kind === 'join' || e.kind === 'leave') players.add(e.xuid);
      book.apply(e);
      contender.apply(e);
    }
    const last = elapsed();
    const converged = () => {
      const published = new Map(emulator.activities().map((a) => [a.xuid, activityContent(a)]));
      for (const xuid of players) if (!sameContent(book.activityOf(xuid), published.get(xuid) ?? null)) return false;
      return true;
    };
    let convergeS: number | null = null;
    // Checked every simulated second, first once the last event's own work has run.
    await clock.tickAsync(0);
    for (;;) {
      if (converged()) {
        convergeS = (elapsed() - last) / 1000;
        break;
      }
      if (elapsed() - last >= CONVERGE_LIMIT_MS) break;
      await clock.tickAsync(1000);
    }
    const endT = elapsed();
    const truth = truthTimeline(scenario.events);
    const log = emulator.log;
    if (log.length !== emulator.counters.requests) throw new Error(`the emulator's log kept ${log.length} of ${emulator.counters.requests} requests: the replay would be wrong`);
    const published = publishedTimeline(log, start);
    const stale = staleness(truth, published, endT);
    const leaves = leaveDelays(truth, published, endT);
    const result: WireResult = {
      scenario: scenario.name,
      contender: name,
      requests: emulator.counters.requests,
      optimum: offlineOptimum(truth, COUNT_REFRESH_MS).writes,
      throttled: emulator.counters.byStatus[429] ?? 0,
      failed: contender.failed(),
      joinabilityEpisodes: stale.joinability.length,
      joinabilityP95S: p95(stale.joinability) / 1000,
      joinabilityMaxS: longest(stale.joinability) / 1000,
      countEpisodes: stale.count.length,
      countP95S: p95(stale.count) / 1000,
      countMaxS: longest(stale.count) / 1000,
      openAtEnd: stale.openAtEnd,
      leaves: leaves.published.length,
      leaveP100S: longest(leaves.published) / 1000,
      convergeS,
    };
    await Promise.race([contender.close(), clock.tickAsync(120_000)]);
    return result;
  } finally {
    clock.uninstall();
  }
}

// A loop, not Math.max(...values): the naive contender's episodes overflow the argument stack.
function longest(values: readonly number[]): number {
  let max = 0;
  for (const v of values) if (v > max) max = v;
  return max;
}
