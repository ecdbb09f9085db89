/**
 * `mpa-sync/testing`: test your own server's MPA behaviour in your own suite, on fake timers,
 * with no sockets and no Xbox credentials.
 *
 * @example
 * import { createTestKit } from 'mpa-sync/testing';
 * const kit = await createTestKit();
 * const match = kit.sync.group({ groupId: 'm', connectionString: 'c', maxPlayers: 8 });
 * match.join('2533274800000001');
 * await kit.settle();
 * expect(kit.friendView('2533274800000001')).toMatchObject({ present: true, players: '1/8', joinable: true });
 * await kit.dispose();
 */
import type { Clock } from '@sinonjs/fake-timers';
import { MpaClient } from '../client.js';
import { ActivitySync, type ActivitySyncOptions } from '../engine/activity-sync.js';
import type { RequestEvent, ThrottledEvent } from '../engine/events.js';
import { checkEmulatorOptions, EmulatorCore, type EmulatorOptions, type FaultKind, type LoggedRequest, type StoredActivity } from '../emulator/core.js';
import { knownKeysOnly } from '../schemas.js';
import { MpaUsageError, MpaValidationError, type ValidationIssue } from '../errors.js';
import { inProcessFetch } from '../emulator/server.js';
import { presenceOf } from '../emulator/inspection.js';
import { seededRandom } from '../random.js';
import { sleep } from '../sleep.js';

/** Options of {@link createTestKit}. */
export interface TestKitOptions {
  /** Emulator options (rate limits, faults, latency...). Default: the documented limits, no faults. */
  emulator?: EmulatorOptions;
  /** ActivitySync options besides the client. Default: defaults, with a seeded random source. */
  sync?: Omit<ActivitySyncOptions, 'client'>;
  /** Title id. Default 1234567890. */
  titleId?: number;
  /**
   * Start of fake time. Default 2026-01-01T00:00:00Z (a realistic date: sequence numbers on the
   * SDK's scale start in 2015, and p-queue's interval limit misbehaves at epoch 0).
   */
  now?: number | Date;
  /**
   * Fake the process's global timers too (the kit installs @sinonjs/fake-timers globally,
   * leaving `nextTick` and `queueMicrotask` real, and uninstalls it in dispose()). Default
   * false: the engine and the emulator run on a private fake clock, and the process's real
   * timers stay with your server and its framework.
   */
  globalTimers?: boolean;
  /**
   * Your own fake clock. A full @sinonjs/fake-timers clock (with `setTimeout`) becomes the
   * engine's clock; an object with only `tickAsync` means you installed fake timers globally
   * (with vitest: `{ tickAsync: (ms) => vi.advanceTimersByTimeAsync(ms) }` after `vi.useFakeTimers()`).
   */
  clock?: TestKitClock;
}

/**
 * What moves the kit's fake time: a @sinonjs/fake-timers clock (which has all of a clock
 * besides), or anything with its `tickAsync`.
 */
export interface TestKitClock {
  /** Advances fake time by `ms`, running every timer due, awaiting promises between timers. */
  tickAsync(ms: number): Promise<unknown>;
}

/**
 * What a friend sees of a player in the Xbox shell, in the words of the emulator's live page
 * (its friends' view): present or not, the line they read, and whether they could join.
 */
export interface FriendView {
  /** The service holds an activity for the player: friends see them in a match. */
  present: boolean;
  /** The line a friend reads, e.g. `In a match · 5/8 · Joinable by followers`, `In a match · 8/8 · Full`, or `Not in a match`. */
  text: string;
  /** A friend could join now: present, not invite-only and not full. */
  joinable: boolean;
  /** The match is full: `currentPlayers` reached `maxPlayers`. */
  full: boolean;
  /** The join restriction is `InviteOnly`: friends need an invite. */
  inviteOnly: boolean;
  /** `5/8`; `5 playing` when the activity has no `maxPlayers`; undefined when it has no count, or the player is not present. */
  players: string | undefined;
  /** `Public`, `Followed` or `InviteOnly`; undefined when the player is not present. */
  joinRestriction: string | undefined;
}

/** What {@link createTestKit} returns. */
export interface TestKit {
  readonly sync: ActivitySync;
  readonly client: MpaClient;
  /** The in-process emulator: log, counters, invites, recent-player groups, failNext, reset. */
  readonly emulator: EmulatorCore;
  /** What moves the kit's fake time (the kit's own clock, or the one you gave). */
  readonly clock: TestKitClock;
  /** The kit's fake wall-clock time (Unix ms). */
  now(): number;
  /** Advances fake time by `ms`, running every timer due. */
  advance(ms: number): Promise<void>;
  /** Advances fake time until every desired state is on the service (at most `maxMs`, default 1 h). */
  settle(maxMs?: number): Promise<void>;
  /** The activity the service holds for `xuid`, or undefined. */
  activityOf(xuid: string): StoredActivity | undefined;
  /**
   * What a friend sees of `xuid` now, e.g. `{ present: true, text: 'In a match · 8/8 · Full',
   * joinable: false, full: true, inviteOnly: false, players: '8/8', joinRestriction: 'Followed' }`,
   * so a test asserts "friends see the match as full" directly.
   */
  friendView(xuid: string): FriendView;
  /** The requests the service saw about `xuid` (its PUT, DELETE, GET, and invites it sent). */
  requestsOf(xuid: string): LoggedRequest[];
  /** Every request event the engine emitted. */
  readonly requests: RequestEvent[];
  /** Every throttle the engine met. */
  readonly throttles: ThrottledEvent[];
  /** Makes the next `count` requests fail with `kind`. */
  failNext(kind: FaultKind, count?: number, retryAfterSeconds?: number): void;
  /** Closes the sync (bounded in fake time) and uninstalls the kit's clock. */
  dispose(): Promise<void>;
}

/** The client's default timeout, simulated on the kit's clock (the client's own timer is real). */
const CLIENT_TIMEOUT_MS = 10_000;

/**
 * Creates an in-process emulator and an ActivitySync wired to it, on fake time: a private
 * clock by default, the global timers with `globalTimers: true`.
 */
const KIT_OPTION_KEYS = ['emulator', 'sync', 'titleId', 'now', 'globalTimers', 'clock'] as const satisfies readonly (keyof TestKitOptions)[];

/**
 * The kit's own options: a start time that is no time would run the kit at epoch 0 (every
 * sequence number "1"); a clock without `tickAsync` would fail at the first `settle()`; and a
 * `sync` option the kit sets itself would be dropped (`client`) or would put the engine on
 * another clock than the emulator's (`clock`).
 */
function checkKitOptions(options: TestKitOptions): void {
  const issues: ValidationIssue[] = [];
  const { now, clock, sync } = options;
  if (now !== undefined && !((typeof now === 'number' || now instanceof Date) && Number.isFinite(+now))) issues.push({ path: ['now'], message: 'now must be Unix ms or a valid Date' });
  if (clock !== undefined && (typeof clock !== 'object' || clock === null || typeof clock.tickAsync !== 'function')) issues.push({ path: ['clock'], message: 'clock must be a @sinonjs/fake-timers clock (with tickAsync)' });
  if (sync !== undefined) {
    if (typeof sync !== 'object' || sync === null) issues.push({ path: ['sync'], message: 'sync must be an object of ActivitySync options' });
    else {
      if ('client' in sync) issues.push({ path: ['sync', 'client'], message: 'the kit makes the client (wired to its emulator)' });
      if ('clock' in sync) issues.push({ path: ['sync', 'clock'], message: "the kit's clock drives the engine: give a clock as the kit's own clock option" });
    }
  }
  if (issues.length) throw new MpaValidationError('test kit options', issues);
}

/** What a friend sees of an activity, or of its absence, in the live page's words. */
function friendViewOf(activity: StoredActivity | undefined): FriendView {
  if (!activity) return { present: false, text: 'Not in a match', joinable: false, full: false, inviteOnly: false, players: undefined, joinRestriction: undefined };
  const { currentPlayers: current, maxPlayers: max, joinRestriction } = activity;
  const presence = presenceOf(activity);
  return {
    present: true,
    text: presence.text,
    joinable: presence.joinable,
    // Both can hold at once (an invite-only match that is also full), where the live page's
    // badge names only the first: a test asks each question on its own.
    full: current !== undefined && max !== undefined && current >= max,
    inviteOnly: joinRestriction === 'InviteOnly',
    players: current === undefined ? undefined : max === undefined ? `${current} playing` : `${current}/${max}`,
    joinRestriction,
  };
}

/**
 * Whether the process's timers are already faked (vitest's or jest's `useFakeTimers()`, or a
 * @sinonjs/fake-timers `install()`): fake-timers marks its Date with `isFake` and every
 * function it replaces with its `clock`.
 */
function globalTimersFaked(): boolean {
  const g = globalThis as unknown as { Date: { isFake?: unknown }; setTimeout: { clock?: unknown } };
  return g.Date.isFake === true || g.setTimeout.clock !== undefined;
}

const ALREADY_FAKED =
  'mpa-sync test kit: globalTimers: true, but the global timers are already faked (vi.useFakeTimers(), jest.useFakeTimers() or another fake-timers install). ' +
  'Either drop globalTimers (the kit then runs on a private clock and leaves your fake timers alone), or keep your fake timers and give the kit the way to move them: ' +
  'createTestKit({ clock: { tickAsync: (ms) => vi.advanceTimersByTimeAsync(ms) } })';

/**
 * @sinonjs/fake-timers, loaded when a kit is made: `mpa-sync/testing` also serves the local
 * Agones SDK server, which needs no fake clock, so importing it must not require the package.
 */
async function fakeTimers(): Promise<typeof import('@sinonjs/fake-timers')> {
  try {
    return await import('@sinonjs/fake-timers');
  } catch {
    throw new MpaUsageError('createTestKit needs @sinonjs/fake-timers: npm install -D @sinonjs/fake-timers');
  }
}

/** Installs fake timers globally for the kit, or says why it cannot. */
function installGlobalTimers(install: typeof import('@sinonjs/fake-timers').install, now: number): Clock & { uninstall(): void } {
  if (globalTimersFaked()) throw new MpaUsageError(ALREADY_FAKED);
  try {
    return install({ now, toNotFake: ['nextTick', 'queueMicrotask'] });
  } catch {
    // A fake that the check above did not recognise: fake-timers refuses with a TypeError.
    throw new MpaUsageError(ALREADY_FAKED);
  }
}

/**
 * An engine wired to an in-process emulator on a fake clock: join players, `settle()`, then
 * assert what the service holds and what a friend sees. No sockets, no credentials.
 *
 * @example
 * const kit = await createTestKit();
 * kit.sync.group({ groupId: 'm', connectionString: 'c', maxPlayers: 2 }).join('2533274800000001');
 * await kit.settle();
 * expect(kit.friendView('2533274800000001')).toMatchObject({ present: true, joinable: true });
 * await kit.dispose();
 */
export async function createTestKit(options: TestKitOptions = {}): Promise<TestKit> {
  // A misspelt option would silently give the default (real rate limits, say, or a shared clock).
  knownKeysOnly('test kit options', options, KIT_OPTION_KEYS);
  // Checked whole here: the kit takes latencyMs out before the core would see it.
  if (options.emulator !== undefined) checkEmulatorOptions(options.emulator, 'test kit options', ['emulator']);
  checkKitOptions(options);
  const start = options.now === undefined ? Date.parse('2026-01-01T00:00:00Z') : +options.now;
  const own = options.clock;
  const ownIsFull = own !== undefined && typeof (own as Clock).setTimeout === 'function';
  const { createClock, install } = own ? ({} as Partial<typeof import('@sinonjs/fake-timers')>) : await fakeTimers();
  const installed = options.globalTimers && !own ? installGlobalTimers(install!, start) : undefined;
  const priv = !options.globalTimers && !own ? createClock!(start) : undefined;
  const engineClock: Clock | undefined = priv ?? (ownIsFull ? (own as Clock) : undefined);
  const clock: TestKitClock = own ?? installed ?? priv!;
  const now = engineClock ? () => engineClock.now : () => Date.now();

  // On a private clock the emulator's own latency sleep would run on real timers: the kit
  // simulates latency and the client's timeout on its clock instead.
  const { latencyMs = 0, ...emulatorOptions } = options.emulator ?? {};
  const emulator = new EmulatorCore({ ...emulatorOptions, ...(engineClock ? { now } : { latencyMs }) });
  const served = inProcessFetch(emulator);
  const fetchOnClock: typeof fetch = engineClock
    ? async (input, init) => {
        let timer: unknown;
        const timeout = new Promise<never>((_, reject) => {
          timer = engineClock.setTimeout(() => reject(new TypeError('fetch failed', { cause: new Error('timed out on the test kit clock') })), CLIENT_TIMEOUT_MS);
        });
        try {
          if (latencyMs) await Promise.race([sleep(latencyMs, init?.signal ?? undefined, engineClock), timeout]);
          return await Promise.race([served(input, init), timeout]);
        } finally {
          engineClock.clearTimeout(timer as never);
        }
      }
    : served;
  const client = new MpaClient({
    titleId: options.titleId ?? 1234567890,
    baseUrl: 'http://127.0.0.1:9',
    authorization: () => 'XBL3.0 x=0;test-kit',
    fetch: fetchOnClock,
  });
  const sync = new ActivitySync({ random: seededRandom(1), ...(engineClock && { clock: engineClock }), ...options.sync, client });
  const requests: RequestEvent[] = [];
  const throttles: ThrottledEvent[] = [];
  sync.on('request', (e) => requests.push(e));
  sync.on('throttled', (e) => throttles.push(e));

  const runUntil = async (promise: Promise<unknown>, maxMs: number) => {
    if (typeof maxMs !== 'number' || !Number.isFinite(maxMs) || maxMs < 0) throw new MpaValidationError('settle', [{ path: ['maxMs'], message: `must be a non-negative number of milliseconds, got ${typeof maxMs === 'number' ? maxMs : typeof maxMs}` }]);
    let done = false;
    const watched = promise.finally(() => (done = true));
    for (let spent = 0; !done && spent < maxMs; spent += 100) await clock.tickAsync(100);
    // A USAGE error like every other refusal of the kit: the test asked for a state the engine
    // does not reach (a `hang` fault answered by nothing, a budget too short).
    if (!done) throw new MpaUsageError(`mpa-sync test kit: not settled after ${maxMs} ms of fake time`);
    await watched;
  };

  return {
    sync,
    client,
    emulator,
    clock,
    requests,
    throttles,
    now,
    advance: async (ms) => {
      // fake-timers would throw its own error (or read '1000' as a duration string).
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new MpaValidationError('advance', [{ path: ['ms'], message: `must be a non-negative number of milliseconds, got ${typeof ms === 'number' ? ms : typeof ms}` }]);
      await clock.tickAsync(ms);
    },
    settle: (maxMs = 3_600_000) => runUntil(sync.flush(), maxMs),
    activityOf: (xuid) => emulator.activity(xuid),
    friendView: (xuid) => friendViewOf(emulator.activity(xuid)),
    requestsOf: (xuid) => emulator.log.filter((r) => r.xuid === xuid),
    failNext: (kind, count, retryAfterSeconds) => emulator.failNext(kind, count, retryAfterSeconds),
    async dispose() {
      try {
        if (!sync.closed) await runUntil(sync.close({ timeoutMs: 10_000 }), 20_000);
      } finally {
        installed?.uninstall();
      }
    },
  };
}

export { startLocalAgonesSdk } from './agones-sdk-server.js';
export type { LocalAgonesSdk, LocalAgonesSdkOptions } from './agones-sdk-server.js';
export type { LocalGameServer, LocalGameServerInit, LocalAllocation, FeatureGates, GameServerState } from './agones-model.js';
