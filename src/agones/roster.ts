/**
 * Who is on the game server, as Agones tracks it (the `players` List, or alpha player
 * tracking), turned into the xuids a group holds and a count of everyone else.
 */
import { MpaError, MpaUsageError, MpaValidationError } from '../errors.js';
import { LIMITS, parseInput, xuidSchema, type XuidInput } from '../schemas.js';
import type { AgonesGameServer } from './game-server.js';

/** Where the players come from: a List (beta Counters and Lists) or alpha player tracking. */
export type PlayerTracking = 'list' | 'alpha';

/**
 * Maps a player id Agones tracks to the player's xuid. Return `null` or `undefined` for a
 * player who is not an Xbox user (cross-play): counted in `currentPlayers`, no activity.
 */
export type PlayerXuidResolver = (playerId: string, gameServer: AgonesGameServer) => XuidInput | null | undefined;

/** The players of one GameServer, read. */
export interface Roster {
  /** Distinct xuids, in the order Agones lists their players. */
  xuids: string[];
  /** Players who are not Xbox users, or whose id gave no valid xuid. */
  others: number;
  /** The tracked capacity, when Agones has one. */
  capacity: number | undefined;
}

/**
 * Reads the roster. Problems (no such list, an id that is not an xuid) are passed to `report`
 * with a key, so the caller can say each once; they never stop the rest of the roster.
 */
export function readRoster(
  gs: AgonesGameServer,
  source: { tracking: PlayerTracking; list: string },
  resolve: (playerId: string) => string | null,
  report: (key: string, error: MpaError) => void,
): Roster {
  let ids: string[];
  let capacity: number | undefined;
  if (source.tracking === 'alpha') {
    if (!gs.players) {
      report('tracking', new MpaUsageError(`GameServer ${gs.name} has no player tracking status: turn the PlayerTracking feature gate on and set spec.players.initialCapacity, or track players in a List`));
      return { xuids: [], others: 0, capacity: undefined };
    }
    ids = gs.players.ids;
    capacity = gs.players.capacity;
  } else {
    const list = gs.lists[source.list];
    if (!list) {
      report('tracking', new MpaUsageError(`GameServer ${gs.name} has no list ${source.list}: declare it under spec.lists (the CountsAndLists feature gate must be on)`));
      return { xuids: [], others: 0, capacity: undefined };
    }
    ids = list.values;
    capacity = list.capacity;
  }
  const xuids = new Set<string>();
  let others = 0;
  for (const id of ids) {
    const xuid = resolve(id);
    if (xuid === null) others++;
    else xuids.add(xuid);
  }
  return { xuids: [...xuids], others, capacity };
}

/**
 * Resolves player ids to xuids, once per id while the id stays on the server; a resolver that
 * throws or gives something that is not an xuid is reported (once) and the player counted as
 * a non-Xbox player.
 */
export class XuidCache {
  readonly #resolved = new Map<string, string | null>();
  constructor(
    private readonly resolver: PlayerXuidResolver,
    private readonly report: (key: string, error: MpaError) => void,
  ) {}

  resolve(playerId: string, gs: AgonesGameServer): string | null {
    const known = this.#resolved.get(playerId);
    if (known !== undefined) return known;
    let xuid: string | null;
    try {
      const raw = this.resolver(playerId, gs);
      xuid = raw === undefined || raw === null ? null : parseInput(xuidSchema, raw, `xuid of player ${JSON.stringify(playerId)}`, ['xuid']);
    } catch (error) {
      const why = error instanceof MpaValidationError ? error.issues.map((i) => i.message).join('; ') : error instanceof Error ? `the xuid function threw ${error.name}` : 'the xuid function threw';
      this.report(
        `xuid:${playerId}`,
        new MpaValidationError('agones player', [{ path: ['players', playerId], message: `player id ${JSON.stringify(playerId)} gives no xuid (${why}); counted, but no activity. Pass an xuid function that maps your player ids to xuids` }], error),
      );
      xuid = null;
    }
    this.#resolved.set(playerId, xuid);
    return xuid;
  }

  /** Forgets ids no longer on the server (one who comes back is resolved again). */
  keepOnly(ids: Iterable<string>): void {
    const keep = new Set(ids);
    for (const id of this.#resolved.keys()) if (!keep.has(id)) this.#resolved.delete(id);
  }

  clear(): void {
    this.#resolved.clear();
  }
}

/** A tracked capacity as MPA's `maxPlayers` (2..100): Agones' default List capacity is 1000. */
export function maxPlayersOf(capacity: number | undefined): number {
  if (capacity === undefined) return LIMITS.maxPlayersMax;
  return Math.min(LIMITS.maxPlayersMax, Math.max(LIMITS.maxPlayersMin, Math.trunc(capacity)));
}
