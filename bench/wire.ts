/**
 * The wire benchmark: the same event streams through mpa-sync, a naive hand-written client and
 * an SDK-style retrying client, against the emulator with the documented rate limits, on a
 * fake clock (hours of play in seconds, the same figures every run).
 */
import { install } from '@sinonjs/fake-timers';
import { ActivitySync, EmulatorCore, inProcessFetch, MpaClient, MpaError, MpaThrottledError, seededRandom, SequenceStamper, xboxSequenceNumber } from '../src/index.js';
import { sleep } from '../src/sleep.js';
import type { BenchEvent, MatchSettings, Scenario } from './scenarios.js';

interface Contender {
  apply(event: BenchEvent): void;
  failed(): number;
  close(): Promise<void>;
}

type Truth = Map<string, { match: string; activity: Record<string, unknown> }>;

/** What the scenario says each player's activity should be. */
class Matches {
  readonly settings = new Map<string, MatchSettings>();
  readonly members = new Map<string, Set<string>>();
  apply(e: BenchEvent): string[] {
    // Returns the players whose desired state changed.
    switch (e.kind) {
      case 'alloc':
        this.settings.set(e.match, { ...e.settings });
        this.members.set(e.match, new Set());
        return [];
      case 'join': {
        for (const [m, set] of this.members) if (m !== e.match && set.delete(e.xuid)) return [e.xuid, ...set, ...this.#join(e)];
        return this.#join(e);
      }
      case 'leave': {
        const set = this.members.get(e.match)!;
        if (!set.delete(e.xuid)) return [];
        return [e.xuid, ...set];
      }
      case 'settings':
        Object.assign(this.settings.get(e.match)!, e.update);
        return [...this.members.get(e.match)!];
      case 'end': {
        const gone = [...this.members.get(e.match)!];
        this.members.delete(e.match);
        this.settings.delete(e.match);
        return gone;
      }
    }
  }
  #join(e: { match: string; xuid: string }): string[] {
    const set = this.members.get(e.match)!;
    set.add(e.xuid);
    return [...set];
  }
  matchOf(xuid: string): string | undefined {
    for (const [m, set] of this.members) if (set.has(xuid)) return m;
    return undefined;
  }
  activityOf(xuid: string): Record<string, unknown> | undefined {
    const m = this.matchOf(xuid);
    if (!m) return undefined;
    const s = this.settings.get(m)!;
    return { connectionString: s.connectionString, joinRestriction: s.joinRestriction, maxPlayers: s.maxPlayers, currentPlayers: this.members.get(m)!.size, groupId: m };
  }
}

/** mpa-sync with defaults. */
function mpaSync(client: MpaClient): Contender {
  const sync = new ActivitySync({ client, random: seededRandom(11) });
  return {
    apply(e) {
      if (e.kind === 'alloc') sync.group({ groupId: e.match, ...e.settings });
      else if (e.kind === 'join') sync.getGroup(e.match)!.join(e.xuid);
      else if (e.kind === 'leave') sync.getGroup(e.match)!.leave(e.xuid);
      else if (e.kind === 'settings') sync.getGroup(e.match)!.update(e.update);
      else void sync.getGroup(e.match)!.close();
    },
    failed: () => sync.stats().failed,
    close: async () => void (await sync.close({ timeoutMs: 60_000 })),
  };
}

/** Fan out every change to every affected player at once, with a per-request retry policy. */
function fanOut(client: MpaClient, retry: (send: () => Promise<void>, xuid: string) => Promise<void>): Contender {
  const matches = new Matches();
  const stamper = new SequenceStamper(xboxSequenceNumber, () => Date.now());
  let failed = 0;
  const send = (xuid: string) => {
    const activity = matches.activityOf(xuid);
    const sequenceNumber = stamper.next(xuid);
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
  requests: number;
  throttled: number;
  failed: number;
  staleMeanS: number;
  staleP95S: number;
  ghostMeanS: number;
  ghostP95S: number;
  convergeS: number | null;
}

export interface WireFloor {
  scenario: string;
  /** One PUT per join and one DELETE per leave or end: the fewest writes that publish every player's presence. */
  minRequests: number;
  /** Every distinct desired state of every player, published once. */
  distinctStates: number;
}

const SAMPLE_MS = 1000;
/** How long after the last event a contender may take to match the truth before it counts as never. */
export const CONVERGE_LIMIT_MS = 5 * 60_000;

export async function runWire(scenario: Scenario, name: keyof typeof CONTENDERS): Promise<WireResult> {
  const clock = install({ now: Date.parse('2026-01-01T00:00:00Z'), toNotFake: ['nextTick', 'queueMicrotask'] });
  try {
    const emulator = new EmulatorCore();
    const client = new MpaClient({ titleId: 1234567890, baseUrl: 'http://127.0.0.1:9', authorization: () => 'XBL3.0 x=1;bench', fetch: inProcessFetch(emulator) });
    const contender = CONTENDERS[name](client);
    const truth = new Matches();
    const start = Date.now();
    const stale: number[] = [];
    const ghost: number[] = [];
    const since = new Map<string, number>(); // mismatch start per player
    const everyone = new Set<string>();
    const sample = () => {
      const published = new Map(emulator.activities().map((a) => [a.xuid, a]));
      const now = Date.now();
      for (const xuid of everyone) {
        const want = truth.activityOf(xuid);
        const have = published.get(xuid);
        const same = want ? have !== undefined && Object.entries(want).every(([k, v]) => (have as unknown as Record<string, unknown>)[k] === v) : have === undefined;
        if (same) {
          since.delete(xuid);
          continue;
        }
        const first = since.get(xuid) ?? now;
        since.set(xuid, first);
        (want ? stale : ghost).push((now - first) / 1000);
      }
      return since.size === 0;
    };
    let i = 0;
    const events = scenario.events;
    const last = events[events.length - 1]!.t;
    for (let t = 0; t <= last; t += SAMPLE_MS) {
      while (i < events.length && events[i]!.t <= t) {
        const e = events[i++]!;
        if (e.kind === 'join' || e.kind === 'leave') everyone.add(e.xuid);
        truth.apply(e);
        contender.apply(e);
      }
      await clock.tickAsync(SAMPLE_MS);
      sample();
    }
    let convergeS: number | null = null;
    for (let waited = 0; waited <= CONVERGE_LIMIT_MS; waited += SAMPLE_MS) {
      if (sample()) {
        convergeS = (Date.now() - start - last - SAMPLE_MS) / 1000;
        break;
      }
      await clock.tickAsync(SAMPLE_MS);
    }
    const result: WireResult = {
      scenario: scenario.name,
      contender: name,
      requests: emulator.counters.requests,
      throttled: emulator.counters.byStatus[429] ?? 0,
      failed: contender.failed(),
      staleMeanS: mean(stale),
      staleP95S: p95(stale),
      ghostMeanS: mean(ghost),
      ghostP95S: p95(ghost),
      convergeS: convergeS === null ? null : Math.max(0, convergeS),
    };
    await Promise.race([contender.close(), clock.tickAsync(120_000)]);
    return result;
  } finally {
    clock.uninstall();
  }
}

export function wireFloor(scenario: Scenario): WireFloor {
  const matches = new Matches();
  let minRequests = 0;
  let distinctStates = 0;
  for (const e of scenario.events) {
    if (e.kind === 'join' || e.kind === 'leave') minRequests++;
    if (e.kind === 'end') minRequests += matches.members.get(e.match)?.size ?? 0;
    distinctStates += matches.apply(e).length;
  }
  return { scenario: scenario.name, minRequests, distinctStates };
}

// Time-weighted: every sample of a mismatch counts, so a long mismatch weighs more.
function mean(values: number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
}

function p95(values: number[]): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))]!;
}
