/**
 * Connects a running Agones game server to an ActivitySync: it watches the GameServer and keeps
 * one group per allocation, whose members are the players Agones tracks, whose settings come
 * from the GameServer (address and port, capacity, labels and annotations set at allocation),
 * and which ends with the allocation. Shutdown (the GameServer's, or SIGTERM) closes the sync
 * within a deadline, so nothing of this server's is left on the service.
 */
import type { ActivitySync, CloseResult } from '../engine/activity-sync.js';
import type { MatchGroup, RecentPlayersOptions } from '../engine/group.js';
import { MpaClosedError, MpaError, MpaTransportError, MpaUsageError, MpaValidationError } from '../errors.js';
import { joinRestrictionSchema, knownKeysOnly, LIMITS, MAX_TIMER_MS, maxPlayersSchema, parseInput, platformSchema, type JoinRestriction, type Platform } from '../schemas.js';
import { readGameServer, type AgonesGameServer, type AgonesGameServerObject } from './game-server.js';
import { maxPlayersOf, readRoster, XuidCache, type PlayerTracking, type PlayerXuidResolver } from './roster.js';
import { classifySdkError } from './sdk-errors.js';
import { defaultConnectionString, GROUP_ID_KEY, groupIdOf, JOIN_RESTRICTION_KEY, joinRestrictionOf, type ConnectionStringSource, type MetadataKeys } from './settings.js';
import { watchWithReconnect, type ReconnectOptions, type WatchTimers } from './watch.js';

/**
 * The part of `@google-cloud/agones-sdk`'s `AgonesSDK` the adapter uses: pass the client itself.
 * `beta` (Lists) and `alpha` (player tracking) are needed only by `addPlayer`/`removePlayer`.
 */
export interface AgonesSdkClient {
  watchGameServer(callback: (gameServer: AgonesGameServerObject) => void, errorCallback: (error: unknown) => void): void;
  connect?(): Promise<void>;
  beta?: { appendListValue(key: string, value: string): Promise<void>; deleteListValue(key: string, value: string): Promise<void> };
  alpha?: { playerConnect(playerId: string): Promise<boolean>; playerDisconnect(playerId: string): Promise<boolean> };
}

/** Something that emits process signals: `process` itself, or an EventEmitter in a test. */
export interface SignalSource {
  once(event: string, listener: () => void): unknown;
  off(event: string, listener: () => void): unknown;
}

/** Options of {@link publishGameServerActivity}. */
export interface GameServerActivityOptions {
  /** The process's ActivitySync. The adapter closes it at shutdown. */
  sync: ActivitySync;
  /** Where players come from: the List `playerList` (default, recommended) or `alpha` player tracking. */
  playerTracking?: PlayerTracking;
  /** The List that tracks players. Default `players`. */
  playerList?: string;
  /** Player id to xuid. Default: the id is the xuid (an id that is not one is an `error` event, and the player is counted without an activity). */
  xuid?: PlayerXuidResolver;
  /** The GameServer port (by name) in the default connection string `address:port`. Default: the port named `default`, else the first. */
  port?: string;
  /** The connection string, or a function of the GameServer that makes it. Default: `address:port`. */
  connectionString?: ConnectionStringSource;
  /** `maxPlayers` to publish. Default: the List's (or player tracking's) capacity, within MPA's 2..100. */
  maxPlayers?: number;
  /** Join restriction when the allocation sets none. Default `Followed`. */
  joinRestriction?: JoinRestriction;
  /** The metadata keys read at each update (annotation first, then label). */
  metadataKeys?: MetadataKeys;
  /** Restrict joining to one platform. Default: every platform of the title. */
  platform?: Platform;
  /** Report who played with whom when each allocation's group ends. Default: off. */
  recentPlayers?: RecentPlayersOptions;
  /**
   * How long shutdown may take to delete every activity (`sync.close({ timeoutMs })`). Default
   * 20000: fits the pod's default `terminationGracePeriodSeconds` of 30 with room to exit.
   */
  shutdownTimeoutMs?: number;
  /** Signals that shut down the same way as the GameServer's `Shutdown`, e.g. `['SIGTERM']`. Default none. */
  signals?: readonly string[];
  /** Where the signals come from. Default `process`. */
  signalSource?: SignalSource;
  /** Timers for the watch's reconnect backoff: `{ setTimeout, clearTimeout }` or a fake-timers clock. Default: the global timers (unreferenced). */
  clock?: WatchTimers;
  /** Random source for the backoff's jitter. Default `Math.random`. */
  random?: () => number;
  /** The watch's reconnect backoff. Default `{ baseMs: 500, capMs: 30000 }`. */
  reconnect?: ReconnectOptions;
}

/** Every key of {@link GameServerActivityOptions}, for the check that refuses a misspelt one. */
const OPTION_KEYS = [
  'sync',
  'playerTracking',
  'playerList',
  'xuid',
  'port',
  'connectionString',
  'maxPlayers',
  'joinRestriction',
  'metadataKeys',
  'platform',
  'recentPlayers',
  'shutdownTimeoutMs',
  'signals',
  'signalSource',
  'clock',
  'random',
  'reconnect',
] as const satisfies readonly (keyof GameServerActivityOptions)[];
// The list cannot fall behind the interface: this fails to compile when a key is missing.
const EVERY_OPTION_LISTED: Exclude<keyof GameServerActivityOptions, (typeof OPTION_KEYS)[number]> extends never ? true : never = true;
void EVERY_OPTION_LISTED;

/** What {@link publishGameServerActivity} returns. */
export interface GameServerActivity {
  /** The current allocation's group, or undefined while the GameServer is not Allocated. */
  readonly group: MatchGroup | undefined;
  /** The last GameServer the adapter applied. */
  readonly gameServer: AgonesGameServer | undefined;
  /**
   * A player joins this server: appends the id to the players List (or, with alpha tracking,
   * `PlayerConnect`), so allocation and autoscaling see them; the group follows when the
   * GameServer update comes back. `full` when Agones' capacity is reached: refuse the player.
   */
  addPlayer(playerId: string): Promise<'added' | 'already-present' | 'full'>;
  /** A player leaves: removes the id from the List (or `PlayerDisconnect`); the group follows. */
  removePlayer(playerId: string): Promise<'removed' | 'absent'>;
  /**
   * Resolves with the first GameServer the adapter has applied (the last one included) for
   * which `predicate` is true: for tests and start-up ordering. Rejects with `MpaClosedError`
   * if the adapter shuts down first.
   */
  applied(predicate?: (gameServer: AgonesGameServer) => boolean): Promise<AgonesGameServer>;
  /** Shuts down now (as the GameServer's `Shutdown` does): ends the group, closes the sync within `shutdownTimeoutMs`. Idempotent. */
  shutdown(): Promise<CloseResult>;
  /** Resolves when the adapter has shut down and the sync is closed: `undeleted` lists what may be left on the service. */
  readonly closed: Promise<CloseResult>;
}

/** States with no way back: the pod is going away. */
const TERMINAL = new Set(['Shutdown', 'Unhealthy']);

const unrefTimers: WatchTimers = {
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    // A reconnect wait must not keep an otherwise finished process alive.
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle),
};

const check = (issues: { path: (string | number)[]; message: string }[]) => {
  if (issues.length) throw new MpaValidationError('publishGameServerActivity', issues);
};

const isFunction = (v: unknown): v is (...args: never[]) => unknown => typeof v === 'function';

function checkOptions(sdk: unknown, options: GameServerActivityOptions): void {
  if (options === null || typeof options !== 'object') check([{ path: [], message: 'options must be an object with at least sync' }]);
  // A misspelt option (`playerlist`, `signal`) would otherwise be dropped and its default used without a word.
  knownKeysOnly('publishGameServerActivity', options, OPTION_KEYS);
  const issues: { path: (string | number)[]; message: string }[] = [];
  if (!sdk || !isFunction((sdk as AgonesSdkClient).watchGameServer)) issues.push({ path: ['sdk'], message: 'sdk must be an AgonesSDK from @google-cloud/agones-sdk (with watchGameServer)' });
  if (!options.sync || !isFunction(options.sync.group) || !isFunction(options.sync.close)) issues.push({ path: ['sync'], message: 'sync must be an ActivitySync' });
  if (options.playerTracking !== undefined && options.playerTracking !== 'list' && options.playerTracking !== 'alpha') issues.push({ path: ['playerTracking'], message: "playerTracking must be 'list' or 'alpha'" });
  if (options.playerList !== undefined && (typeof options.playerList !== 'string' || options.playerList === '')) issues.push({ path: ['playerList'], message: 'playerList must be a list name' });
  if (options.xuid !== undefined && !isFunction(options.xuid)) issues.push({ path: ['xuid'], message: 'xuid must be a function (playerId, gameServer) => xuid' });
  if (options.port !== undefined && typeof options.port !== 'string') issues.push({ path: ['port'], message: 'port must be the name of a GameServer port' });
  if (options.connectionString !== undefined && typeof options.connectionString !== 'string' && !isFunction(options.connectionString)) issues.push({ path: ['connectionString'], message: 'connectionString must be a string or a function of the GameServer' });
  if (options.signals !== undefined && !(Array.isArray(options.signals) && options.signals.every((s) => typeof s === 'string'))) issues.push({ path: ['signals'], message: "signals must be an array of signal names, e.g. ['SIGTERM']" });
  if (options.signalSource !== undefined && !(options.signalSource && isFunction(options.signalSource.once) && isFunction(options.signalSource.off))) issues.push({ path: ['signalSource'], message: 'signalSource must have once() and off() (process, or an EventEmitter)' });
  if (options.clock !== undefined && !(options.clock && isFunction(options.clock.setTimeout) && isFunction(options.clock.clearTimeout))) issues.push({ path: ['clock'], message: 'clock must have setTimeout and clearTimeout' });
  if (options.random !== undefined && !isFunction(options.random)) issues.push({ path: ['random'], message: 'random must be a function returning [0, 1)' });
  const ms = (value: unknown, path: (string | number)[], min = 0) => {
    if (value !== undefined && !(Number.isInteger(value) && (value as number) >= min && (value as number) <= MAX_TIMER_MS)) issues.push({ path, message: `must be an integer from ${min} to ${MAX_TIMER_MS} (milliseconds)` });
  };
  ms(options.shutdownTimeoutMs, ['shutdownTimeoutMs']);
  if (options.reconnect !== undefined) {
    if (typeof options.reconnect !== 'object' || options.reconnect === null) issues.push({ path: ['reconnect'], message: 'reconnect must be { baseMs, capMs }' });
    else {
      knownKeysOnly('publishGameServerActivity', options.reconnect, ['baseMs', 'capMs'], ['reconnect']);
      // A zero wait would retry a dead sidecar in a tight loop.
      ms(options.reconnect.baseMs, ['reconnect', 'baseMs'], 1);
      ms(options.reconnect.capMs, ['reconnect', 'capMs'], 1);
    }
  }
  if (options.metadataKeys !== undefined) knownKeysOnly('publishGameServerActivity', options.metadataKeys, ['joinRestriction', 'groupId'], ['metadataKeys']);
  check(issues);
  parseInput(joinRestrictionSchema.optional(), options.joinRestriction, 'publishGameServerActivity', ['joinRestriction']);
  parseInput(maxPlayersSchema.optional(), options.maxPlayers, 'publishGameServerActivity', ['maxPlayers']);
  parseInput(platformSchema.optional(), options.platform, 'publishGameServerActivity', ['platform']);
}

/**
 * Publishes the Multiplayer Activity of an Agones game server's players. Call once, after
 * `new AgonesSDK()` (and `await sdk.connect()`), before `sdk.ready()`.
 *
 * While the GameServer is Allocated, one group holds the players Agones tracks (the `players`
 * List, or alpha player tracking), mapped to xuids by `xuid`; its connection string, max
 * players, join restriction and group id follow the GameServer. The group ends when the
 * allocation does (back to Ready); `Shutdown`, `Unhealthy`, deletion or one of `signals`
 * closes the sync within `shutdownTimeoutMs`. Problems are `error` events on the sync, never
 * exceptions in the watch.
 *
 * @example
 * const sdk = new AgonesSDK();
 * await sdk.connect();
 * const mpa = publishGameServerActivity(sdk, { sync, port: 'default', signals: ['SIGTERM'] });
 * await sdk.ready();
 * // a player connects: await mpa.addPlayer(xuid) ... leaves: await mpa.removePlayer(xuid)
 * await mpa.closed; // after Shutdown or SIGTERM
 */
export function publishGameServerActivity(sdk: AgonesSdkClient, options: GameServerActivityOptions): GameServerActivity {
  checkOptions(sdk, options);
  const { sync } = options;
  const tracking = options.playerTracking ?? 'list';
  const playerList = options.playerList ?? 'players';
  const keys = { joinRestriction: options.metadataKeys?.joinRestriction ?? JOIN_RESTRICTION_KEY, groupId: options.metadataKeys?.groupId ?? GROUP_ID_KEY };
  const baseRestriction = options.joinRestriction ?? 'Followed';
  const timeoutMs = options.shutdownTimeoutMs ?? 20_000;

  let group: MatchGroup | undefined;
  let last: AgonesGameServer | undefined;
  let closing: Promise<CloseResult> | undefined;
  let markClosed!: (result: CloseResult) => void;
  const closed = new Promise<CloseResult>((resolve) => (markClosed = resolve));
  const waiters = new Set<{ predicate: (gs: AgonesGameServer) => boolean; resolve: (gs: AgonesGameServer) => void; reject: (error: unknown) => void }>();

  // Each problem is said once per allocation: a GameServer update repeats the same state.
  const said = new Set<string>();
  const report = (error: unknown) => {
    const mpaError = error instanceof MpaError ? error : new MpaUsageError(`agones adapter: ${error instanceof Error ? error.name : typeof error}`);
    sync.emit('error', { ...(group ? { groupId: group.groupId } : {}), error: mpaError });
  };
  const reportOnce = (key: string, error: MpaError) => {
    if (said.has(key)) return;
    said.add(key);
    report(error);
  };
  const xuids = new XuidCache(options.xuid ?? ((id) => id), reportOnce);

  /** Ends the allocation's group: everyone's DELETE (and recent players, if set). */
  const endGroup = () => {
    const ending = group;
    group = undefined;
    said.clear();
    xuids.clear();
    ending?.close().catch((error: unknown) => void (!(error instanceof MpaError && error.code === 'CLOSED') && report(error)));
  };

  const settingsOf = (gs: AgonesGameServer) => {
    let connectionString: string | MpaError;
    try {
      const source = options.connectionString;
      connectionString = source === undefined ? defaultConnectionString(gs, options.port) : typeof source === 'string' ? source : source(gs);
    } catch (error) {
      connectionString = new MpaUsageError(`agones adapter: the connectionString function threw ${error instanceof Error ? error.name : typeof error}`);
    }
    if (connectionString instanceof MpaError) {
      reportOnce('connectionString', connectionString);
      return undefined;
    }
    const restriction = joinRestrictionOf(gs, keys.joinRestriction, baseRestriction);
    if (restriction instanceof MpaError) reportOnce(`joinRestriction:${gs.annotations[keys.joinRestriction] ?? gs.labels[keys.joinRestriction]}`, restriction);
    const { groupId, error } = groupIdOf(gs, keys.groupId);
    if (error) reportOnce(`groupId:${gs.annotations[keys.groupId] ?? gs.labels[keys.groupId]}`, error);
    return { connectionString, joinRestriction: restriction instanceof MpaError ? baseRestriction : restriction, groupId };
  };

  /** Brings the group in line with an Allocated GameServer. */
  const follow = (gs: AgonesGameServer) => {
    const settings = settingsOf(gs);
    if (!settings) return;
    const roster = readRoster(gs, { tracking, list: playerList }, (id) => xuids.resolve(id, gs), reportOnce);
    xuids.keepOnly(tracking === 'alpha' ? (gs.players?.ids ?? []) : (gs.lists[playerList]?.values ?? []));
    const maxPlayers = options.maxPlayers ?? maxPlayersOf(roster.capacity);
    // currentPlayers may not pass 100: Xbox members first, then as many others as fit.
    const extraPlayers = Math.max(0, Math.min(roster.others, LIMITS.currentPlayersMax - roster.xuids.length));
    const wanted = new Set(roster.xuids);

    if (group && group.groupId !== settings.groupId) {
      // A new group id (set by the allocation): the members move over, one PUT each, no DELETE.
      const previous = group;
      const next = open(settings, maxPlayers);
      if (next) {
        group = next;
        for (const xuid of previous.members) if (wanted.has(xuid)) attempt(() => next.join(xuid));
        previous.close().catch((error: unknown) => void (!(error instanceof MpaError && error.code === 'CLOSED') && report(error)));
      }
    }
    group ??= open(settings, maxPlayers);
    if (!group) return;
    const g = group;
    for (const xuid of g.members) if (!wanted.has(xuid)) attempt(() => g.leave(xuid));
    // Settings before joins, so that each joiner's single PUT carries the count it joins into.
    attempt(() => g.update({ connectionString: settings.connectionString, joinRestriction: settings.joinRestriction, maxPlayers, extraPlayers }));
    for (const xuid of wanted) if (!g.has(xuid)) attempt(() => g.join(xuid));
  };

  const open = (settings: { connectionString: string; joinRestriction: JoinRestriction; groupId: string }, maxPlayers: number): MatchGroup | undefined => {
    try {
      return sync.group({
        groupId: settings.groupId,
        connectionString: settings.connectionString,
        joinRestriction: settings.joinRestriction,
        maxPlayers,
        ...(options.platform ? { platform: options.platform } : {}),
        ...(options.recentPlayers ? { recentPlayers: options.recentPlayers } : {}),
      });
    } catch (error) {
      if (error instanceof MpaError && error.code === 'CLOSED') void shutdown();
      else reportOnce(`group:${settings.groupId}`, error instanceof MpaError ? error : new MpaUsageError(String(error)));
      return undefined;
    }
  };

  /** One change to the group; a refusal is an `error` event, and the others still happen. */
  const attempt = (change: () => unknown) => {
    try {
      change();
    } catch (error) {
      if (error instanceof MpaError && error.code === 'CLOSED') void shutdown();
      else report(error);
    }
  };

  const settleWaiters = (gs: AgonesGameServer) => {
    for (const waiter of [...waiters]) {
      let met: boolean;
      try {
        met = waiter.predicate(gs);
      } catch (error) {
        waiters.delete(waiter);
        waiter.reject(error);
        continue;
      }
      if (met) {
        waiters.delete(waiter);
        waiter.resolve(gs);
      }
    }
  };

  const apply = (raw: AgonesGameServerObject) => {
    const gs = readGameServer(raw);
    last = gs;
    try {
      if (closing) return;
      if (TERMINAL.has(gs.state) || gs.deletionTimestamp !== 0) void shutdown();
      else if (gs.state === 'Allocated') follow(gs);
      else if (group) endGroup();
    } catch (error) {
      // Whatever happens here runs inside the gRPC client's stream callback: never throw there.
      report(error);
    } finally {
      settleWaiters(gs);
    }
  };

  const watch = watchWithReconnect(
    sdk,
    apply,
    ({ error, attempt: n, delayMs }) => {
      const code = (error as { code?: unknown } | undefined)?.code;
      const details = (error as { details?: unknown } | undefined)?.details;
      const why = typeof details === 'string' && details ? `${typeof code === 'number' ? `gRPC ${code}: ` : ''}${details}` : error instanceof Error ? error.message : 'no answer';
      report(new MpaTransportError('network', `Agones SDK WatchGameServer broke (${why}); reconnecting in ${delayMs} ms (attempt ${n}); the group stays as it was until then`, { cause: error }));
    },
    {
      timers: options.clock ?? unrefTimers,
      random: options.random ?? Math.random,
      reconnect: { baseMs: options.reconnect?.baseMs ?? 500, capMs: options.reconnect?.capMs ?? 30_000 },
    },
  );

  const signals = options.signals ?? [];
  const source: SignalSource = options.signalSource ?? process;
  const onSignal = () => void shutdown();
  for (const signal of signals) source.once(signal, onSignal);

  function shutdown(): Promise<CloseResult> {
    if (closing) return closing;
    watch.stop();
    for (const signal of signals) source.off(signal, onSignal);
    // The sync's close ends the group too: every member's DELETE, within the deadline.
    group = undefined;
    closing = sync.close({ timeoutMs }).catch((error: unknown) => {
      report(error);
      return { undeleted: [] };
    });
    void closing.then(markClosed);
    // A waiter the last GameServer satisfies (the Shutdown itself, say) resolves; the others never would.
    if (last) settleWaiters(last);
    for (const waiter of [...waiters]) {
      waiters.delete(waiter);
      waiter.reject(new MpaClosedError('the Agones adapter has shut down'));
    }
    return closing;
  }

  /** Runs an SDK call and reads its failure as Agones means it (UNKNOWN errors carry their meaning in the text). */
  const call = async <T>(name: string, run: () => Promise<T>): Promise<T | 'already-present' | 'full' | 'absent'> => {
    if (closing) throw new MpaClosedError('the Agones adapter has shut down');
    try {
      return await run();
    } catch (error) {
      const outcome = classifySdkError(name, error);
      if (outcome instanceof MpaError) throw outcome;
      return outcome;
    }
  };
  const checkId = (playerId: unknown, what: string) => {
    if (typeof playerId !== 'string' || playerId === '') throw new MpaValidationError(what, [{ path: ['playerId'], message: 'playerId must be a non-empty string' }]);
  };
  const needs = <K extends 'alpha' | 'beta'>(part: K): NonNullable<AgonesSdkClient[K]> => {
    const api = (sdk as AgonesSdkClient)[part];
    if (!api) throw new MpaUsageError(`the Agones SDK client has no ${part} API (use @google-cloud/agones-sdk 1.61 or later)`);
    return api as NonNullable<AgonesSdkClient[K]>;
  };

  return {
    get group() {
      return group;
    },
    get gameServer() {
      return last;
    },
    closed,
    shutdown,
    async addPlayer(playerId) {
      checkId(playerId, 'addPlayer');
      if (tracking === 'alpha') {
        const alpha = needs('alpha');
        const result = await call('PlayerConnect', () => alpha.playerConnect(playerId));
        return result === true ? 'added' : result === false ? 'already-present' : result === 'full' ? 'full' : 'already-present';
      }
      const beta = needs('beta');
      const result = await call('AppendListValue', () => beta.appendListValue(playerList, playerId));
      return result === 'already-present' || result === 'full' ? result : 'added';
    },
    async removePlayer(playerId) {
      checkId(playerId, 'removePlayer');
      if (tracking === 'alpha') {
        const alpha = needs('alpha');
        const result = await call('PlayerDisconnect', () => alpha.playerDisconnect(playerId));
        return result === true ? 'removed' : 'absent';
      }
      const beta = needs('beta');
      const result = await call('DeleteListValue', () => beta.deleteListValue(playerList, playerId));
      return result === 'absent' ? 'absent' : 'removed';
    },
    applied(predicate = () => true) {
      if (last && predicate(last)) return Promise.resolve(last);
      if (closing) return Promise.reject(new MpaClosedError('the Agones adapter has shut down'));
      return new Promise((resolve, reject) => waiters.add({ predicate, resolve, reject }));
    },
  };
}
