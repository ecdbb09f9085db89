/**
 * Subscribes an ActivitySync to a matchmaker's (or a server framework's) events. Bad events
 * become `error` events on the sync; nothing is ever thrown back into the matchmaker.
 */
import { MpaError, MpaUsageError, MpaValidationError, type ValidationIssue } from './errors.js';
import type { ActivitySync } from './engine/activity-sync.js';
import { parseInput, unknownKeyIssues } from './schemas.js';
import { groupUpdateSchema, type GroupOptions, type GroupUpdate } from './engine/group.js';

/** Anything with `on`/`off` (or `addListener`/`removeListener`): Node's EventEmitter, eventemitter3, a socket. */
export interface EventSource {
  on?(event: string, listener: (...args: any[]) => void): unknown;
  off?(event: string, listener: (...args: any[]) => void): unknown;
  addListener?(event: string, listener: (...args: any[]) => void): unknown;
  removeListener?(event: string, listener: (...args: any[]) => void): unknown;
}

/** Options of {@link bindMatchmaker}: event names and how to read each payload. */
export interface MatchmakerBindingOptions<P = any> {
  /** Event names. Defaults: `matchAllocated`, `matchStarted`, `playerJoined`, `playerLeft`, `matchSettingsChanged`, `matchEnded`. */
  events?: Partial<Record<'matchAllocated' | 'matchStarted' | 'playerJoined' | 'playerLeft' | 'matchSettingsChanged' | 'matchEnded', string>>;
  /** Settings applied when a match starts, e.g. `{ joinRestriction: 'InviteOnly' }` to lock it. Default: none. */
  onMatchStarted?: GroupUpdate;
  /** Group options from a match-allocated payload. Default: the payload, with `matchId` as `groupId`. */
  toGroup?: (payload: P) => GroupOptions;
  /** Match id and xuid from a player joined/left payload. Default: `{ matchId, xuid }` fields. */
  toPlayer?: (payload: P) => { matchId: string; xuid: string };
  /** Match id and settings change from a settings payload. Default: `{ matchId, ...update }`. */
  toUpdate?: (payload: P) => { matchId: string; update: GroupUpdate };
  /** Match id from a match-ended payload. Default: `payload.matchId`. */
  toMatchId?: (payload: P) => string;
}

const DEFAULT_EVENTS = {
  matchAllocated: 'matchAllocated',
  matchStarted: 'matchStarted',
  playerJoined: 'playerJoined',
  playerLeft: 'playerLeft',
  matchSettingsChanged: 'matchSettingsChanged',
  matchEnded: 'matchEnded',
} as const;

/**
 * Wires `source`'s events to `sync`; returns a function that unsubscribes.
 *
 * @example
 * const unbind = bindMatchmaker(sync, matchmaker, {
 *   events: { playerJoined: 'player:join' },
 *   toPlayer: (e) => ({ matchId: e.match.id, xuid: e.user.xuid }),
 * });
 */
export function bindMatchmaker<P = any>(sync: ActivitySync, source: EventSource, options: MatchmakerBindingOptions<P> = {}): () => void {
  // Checked here, not at the first event: a wrong `sync` (arguments swapped, say) would
  // otherwise throw a raw TypeError into the matchmaker's emit, or bind silently to nothing.
  if (sync === null || typeof sync !== 'object' || typeof sync.group !== 'function' || typeof sync.getGroup !== 'function' || typeof sync.emit !== 'function') {
    throw new MpaUsageError('bindMatchmaker: the first argument must be an ActivitySync (bindMatchmaker(sync, source, options))');
  }
  checkOptions(options);
  const names = { ...DEFAULT_EVENTS, ...options.events };
  const toGroup =
    options.toGroup ??
    ((p: any) => {
      const { matchId, ...rest } = p ?? {};
      return { ...rest, groupId: rest.groupId ?? matchId };
    });
  const toPlayer = options.toPlayer ?? ((p: any) => ({ matchId: p?.matchId, xuid: p?.xuid }));
  const toUpdate = options.toUpdate ?? ((p: any) => {
    const { matchId, ...update } = p ?? {};
    return { matchId, update };
  });
  const toMatchId = options.toMatchId ?? ((p: any) => p?.matchId);

  const report = (event: string, error: unknown, groupId?: string, xuid?: string) => {
    const mpaError = error instanceof MpaError ? error : new MpaUsageError(`${event}: ${error instanceof Error ? error.message : String(error)}`);
    sync.emit('error', { groupId, xuid, error: mpaError });
  };
  // What the failed event named, for its error event (a mapper that throws names nothing).
  const named = (read: () => unknown): string | undefined => {
    try {
      const value = read();
      return typeof value === 'string' && value !== '' ? value : undefined;
    } catch {
      return undefined;
    }
  };
  const matchOf = (event: string, matchId: unknown) => {
    const group = typeof matchId === 'string' ? sync.getGroup(matchId) : undefined;
    if (!group) throw new MpaUsageError(`${event}: unknown match ${JSON.stringify(matchId)}`);
    return group;
  };
  const guarded = (event: string, handle: (payload: P) => void) => (payload: P) => {
    try {
      handle(payload);
    } catch (error) {
      // Each event's match (and player) through the same mapper its handler used.
      const player = event === names.playerJoined || event === names.playerLeft;
      const matchId = player
        ? named(() => toPlayer(payload).matchId)
        : event === names.matchAllocated
          ? named(() => toGroup(payload).groupId)
          : event === names.matchEnded
            ? named(() => toMatchId(payload))
            : named(() => toUpdate(payload).matchId);
      report(event, error, matchId, player ? named(() => toPlayer(payload).xuid) : undefined);
    }
  };

  const handlers: [string, (payload: P) => void][] = [
    [names.matchAllocated, guarded(names.matchAllocated, (p) => {
      sync.group(toGroup(p));
    })],
    [names.playerJoined, guarded(names.playerJoined, (p) => {
      const { matchId, xuid } = toPlayer(p);
      if (xuid === undefined || xuid === null || xuid === '') throw new MpaUsageError(`${names.playerJoined}: missing xuid`);
      matchOf(names.playerJoined, matchId).join(xuid);
    })],
    [names.playerLeft, guarded(names.playerLeft, (p) => {
      const { matchId, xuid } = toPlayer(p);
      if (xuid === undefined || xuid === null || xuid === '') throw new MpaUsageError(`${names.playerLeft}: missing xuid`);
      matchOf(names.playerLeft, matchId).leave(xuid);
    })],
    [names.matchStarted, guarded(names.matchStarted, (p) => {
      const { matchId, update } = toUpdate(p);
      matchOf(names.matchStarted, matchId).update({ ...options.onMatchStarted, ...update });
    })],
    [names.matchSettingsChanged, guarded(names.matchSettingsChanged, (p) => {
      const { matchId, update } = toUpdate(p);
      matchOf(names.matchSettingsChanged, matchId).update(update);
    })],
    [names.matchEnded, guarded(names.matchEnded, (p) => {
      const matchId = toMatchId(p);
      matchOf(names.matchEnded, matchId).close().catch((error: unknown) => report(names.matchEnded, error, matchId));
    })],
  ];
  const emitter = source !== null && (typeof source === 'object' || typeof source === 'function') ? source : {};
  const on = (emitter.on ?? emitter.addListener)?.bind(emitter);
  const off = (emitter.off ?? emitter.removeListener)?.bind(emitter);
  if (!on || !off) throw new MpaUsageError('bindMatchmaker: the source needs on/off or addListener/removeListener');
  for (const [event, handler] of handlers) on(event, handler);
  return () => {
    for (const [event, handler] of handlers) off(event, handler);
  };
}

const OPTION_KEYS = ['events', 'onMatchStarted', 'toGroup', 'toPlayer', 'toUpdate', 'toMatchId'] as const satisfies readonly (keyof MatchmakerBindingOptions)[];

/**
 * Checks the options when binding, not when the first event arrives: a misspelt event name
 * would otherwise leave that event unheard, and a mapper that is not a function would turn
 * every event into an `error` event.
 */
function checkOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) throw new MpaValidationError('bindMatchmaker options', [{ path: [], message: 'options must be an object' }]);
  const issues: ValidationIssue[] = [];
  const given = options as Record<string, unknown>;
  issues.push(...unknownKeyIssues(given, OPTION_KEYS));
  for (const key of ['toGroup', 'toPlayer', 'toUpdate', 'toMatchId']) {
    if (given[key] !== undefined && typeof given[key] !== 'function') issues.push({ path: [key], message: `${key} must be a function` });
  }
  if (given.onMatchStarted !== undefined && (typeof given.onMatchStarted !== 'object' || given.onMatchStarted === null)) issues.push({ path: ['onMatchStarted'], message: 'onMatchStarted must be an object (a group update)' });
  const events = given.events;
  if (events !== undefined) {
    if (typeof events !== 'object' || events === null) issues.push({ path: ['events'], message: 'events must be an object of event names' });
    else {
      for (const [key, name] of Object.entries(events)) {
        if (!Object.hasOwn(DEFAULT_EVENTS, key)) issues.push({ path: ['events', key], message: `is not an event of the binding (one of ${Object.keys(DEFAULT_EVENTS).join(', ')})` });
        else if (typeof name !== 'string' || name === '') issues.push({ path: ['events', key], message: 'must be a non-empty event name' });
      }
    }
  }
  if (issues.length) throw new MpaValidationError('bindMatchmaker options', issues);
  // The update applied at every matchStarted: a bad one is refused now, not once per match.
  const started = given.onMatchStarted as Record<string, unknown> | undefined;
  if (started) parseInput(groupUpdateSchema, Object.fromEntries(Object.entries(started).filter(([, v]) => v !== undefined)), 'bindMatchmaker options', ['onMatchStarted']);
}
