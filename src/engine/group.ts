/**
 * A match, room or server instance: its members and join settings. Every change is turned into
 * the desired activity of each member and handed to the engine.
 */
import { z } from 'zod';
import { MpaError, MpaUsageError, MpaValidationError } from '../errors.js';
import {
  connectionStringSchema,
  groupIdSchema,
  joinRestrictionSchema,
  LIMITS,
  maxPlayersSchema,
  parseInput,
  platformSchema,
  xuidSchema,
  type EncounterType,
  type RecentPlayerGroupInput,
  type XuidInput,
} from '../schemas.js';
import type { ActivityContent, SendReason } from './desired.js';
import type { InviteResult, RecentPlayersResult } from './events.js';

const extraPlayersSchema = z.number().int({ error: 'extraPlayers must be an integer' }).min(0, { error: 'extraPlayers must be at least 0' }).max(LIMITS.currentPlayersMax, { error: `extraPlayers must be at most ${LIMITS.currentPlayersMax}` });

/** A decimal xuid as {@link xuidSchema} returns it (1 to 10^19 - 1, no leading zero). */
const CANONICAL_XUID = /^[1-9][0-9]{0,18}$/;

/** The xuid of a join, leave or lookup: a canonical string as is (the hot path), anything else through zod. */
function xuidOf(xuid: XuidInput): string {
  return typeof xuid === 'string' && CANONICAL_XUID.test(xuid) ? xuid : parseInput(xuidSchema, xuid, 'xuid', ['xuid']);
}

/** Settings shared by every member's activity. */
export const groupSettingsSchema = z.strictObject({
  connectionString: connectionStringSchema.min(1, { error: 'connectionString must not be empty' }),
  joinRestriction: joinRestrictionSchema.default('Followed'),
  maxPlayers: maxPlayersSchema,
  /** Omit (or `undefined`) to be joinable on every platform of the title. */
  platform: platformSchema.optional(),
  /** Players the server hosts who are not Xbox users (cross-play), counted in currentPlayers. */
  extraPlayers: extraPlayersSchema.default(0),
});

const recentPlayersOptionsSchema = z.strictObject({
  /** How the whole match is reported: `Opponent` (default) or `Default`. Teams are always `Teammate`. */
  encounterType: z.enum(['Opponent', 'Default']).default('Opponent'),
  /** Also report every `intervalMs` while the match runs (long matches). Default: only at close. */
  intervalMs: z.number().int().min(60_000, { error: 'intervalMs must be at least 60000' }).optional(),
  /** The teams at report time, as lists of xuids. Default: none. */
  teams: z.custom<() => readonly (readonly string[])[]>((v) => typeof v === 'function', { error: 'teams must be a function' }).optional(),
});
export type RecentPlayersOptions = z.input<typeof recentPlayersOptionsSchema>;

export const groupOptionsSchema = groupSettingsSchema.extend({
  groupId: groupIdSchema.min(1, { error: 'groupId must not be empty' }),
  /** Report who played with whom when the match closes (and on an interval). Default: off. */
  recentPlayers: recentPlayersOptionsSchema.optional(),
});
/** Options of {@link ActivitySync.group}. */
export type GroupOptions = z.input<typeof groupOptionsSchema>;
/** What `group.update()` accepts (also checked by `bindMatchmaker`'s `onMatchStarted`). @internal */
export const groupUpdateSchema = groupSettingsSchema.partial().extend({ platform: platformSchema.nullable().optional() });
/** A change to a group's settings: any subset; `undefined` keeps a value, `platform: null` clears it. */
export type GroupUpdate = z.input<typeof groupUpdateSchema>;
type Settings = z.output<typeof groupSettingsSchema>;

/**
 * Where a group sends what it computes: the engine's registry. Calls go one way, from the group
 * down to the engine; nothing here calls back into the group.
 */
export interface GroupSink {
  /** The desired activity of `xuid` (null: none) changed. */
  desire(xuid: string, groupId: string, activity: ActivityContent | null, reason: SendReason): void;
  release(group: MatchGroup): void;
  settled(xuids: readonly string[]): Promise<void>;
  assertOpen(): void;
  invite(groupId: string, settings: { connectionString: string; platform?: string | undefined }, sender: string, xuids: readonly string[]): Promise<InviteResult>;
  reportRecentPlayers(groupId: string, groups: RecentPlayerGroupInput[]): Promise<RecentPlayersResult>;
  /** Wall-clock time, for report timestamps. */
  wallNow(): number;
  /** Runs `callback` every `ms` on the engine's clock; returns a function that stops it. */
  every(ms: number, callback: () => void): () => void;
  onError(error: MpaError, groupId: string): void;
}

const reportOptionsSchema = z.strictObject(
  {
    encounterType: z.enum(['Opponent', 'Default'], { error: "encounterType must be 'Opponent' or 'Default'" }).optional(),
    teams: z.array(z.array(z.unknown(), { error: 'each team must be an array of xuids' }), { error: 'teams must be an array of teams (arrays of xuids)' }).optional(),
  },
  { error: 'options must be an object' },
);

/**
 * The players of one match and the activity they share. Create with {@link ActivitySync.group}.
 *
 * @example
 * const match = sync.group({ groupId: 'match-42', connectionString: '203.0.113.7:7777', maxPlayers: 8 });
 * match.join('2533274800000001');
 * match.update({ joinRestriction: 'InviteOnly' });
 * match.leave('2533274800000001');
 */
export class MatchGroup {
  readonly groupId: string;
  #settings: Settings;
  readonly #members = new Set<string>();
  /** Everyone who played since the last recent-players report. */
  readonly #played = new Set<string>();
  readonly #recent: z.output<typeof recentPlayersOptionsSchema> | undefined;
  #stopInterval: (() => void) | undefined;
  /** The content every member shares, built once per change. */
  #content: ActivityContent | undefined;
  #closed = false;
  readonly #host: GroupSink;

  /** @internal */
  constructor(options: GroupOptions, host: GroupSink) {
    this.#host = host;
    const parsed = parseInput(groupOptionsSchema, options, 'group options');
    this.groupId = parsed.groupId;
    const { groupId: _id, recentPlayers, ...settings } = parsed;
    this.#settings = settings;
    this.#recent = recentPlayers;
    if (recentPlayers?.intervalMs) {
      this.#stopInterval = host.every(recentPlayers.intervalMs, () => {
        // #autoReport catches everything itself; the catch here only keeps that a guarantee.
        this.#autoReport().catch(() => undefined);
      });
    }
  }

  /** Members, in join order. */
  get members(): readonly string[] {
    return [...this.#members];
  }

  /** The current settings (connection string, join restriction, max players, platform, extra players). */
  get settings(): Readonly<Settings> {
    return { ...this.#settings };
  }

  /** `currentPlayers` as published: Xbox members plus `extraPlayers`. */
  get currentPlayers(): number {
    return this.#members.size + this.#settings.extraPlayers;
  }

  /** Whether `xuid` is a member. */
  has(xuid: XuidInput): boolean {
    return this.#members.has(xuidOf(xuid));
  }

  /**
   * Adds a player: PUT for them, and a count refresh for the others. Joining a group the
   * player is already in is a no-op (returns false). A player may be in several groups at once
   * (a lobby and a match): each counts them, and their activity shows the group they joined
   * most recently among those that still hold them.
   */
  join(xuid: XuidInput): boolean {
    this.#assertUsable();
    const id = xuidOf(xuid);
    if (this.#members.has(id)) return false;
    this.#checkCount(this.currentPlayers + 1);
    this.#members.add(id);
    // A report names at most recentPlayersMax players, the first who played: keep no more.
    if (this.#played.size < LIMITS.recentPlayersMax) this.#played.add(id);
    this.#content = undefined;
    // Everyone's desired state follows, the joiner's first; the engine decides what to send.
    this.#host.desire(id, this.groupId, this.#activity(), 'join');
    this.#refreshOthers(id, 'count');
    return true;
  }

  /** Removes a player: DELETE for them, a count refresh for the others. Not a member: no-op, returns false. */
  leave(xuid: XuidInput): boolean {
    this.#host.assertOpen();
    const id = xuidOf(xuid);
    if (!this.#remove(id)) return false;
    this.#host.desire(id, this.groupId, null, 'leave');
    return true;
  }

  /**
   * Changes settings; every member's activity follows. A key that is absent or `undefined`
   * keeps its value (`platform: null` makes the match joinable on every platform again).
   */
  update(patch: GroupUpdate): void {
    this.#assertUsable();
    if (typeof patch !== 'object' || patch === null) throw new MpaValidationError('group update', [{ path: [], message: 'update must be an object' }]);
    const given = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
    const parsed = parseInput(groupUpdateSchema, given, 'group update');
    const next: Settings = { ...this.#settings };
    for (const key of Object.keys(given) as (keyof Settings)[]) {
      const value = parsed[key];
      if (key === 'platform' && value === null) delete next.platform;
      else (next as Record<string, unknown>)[key] = value;
    }
    const changed = (k: keyof Settings) => next[k] !== this.#settings[k];
    const settingsChanged = changed('connectionString') || changed('joinRestriction') || changed('maxPlayers') || changed('platform');
    if (!settingsChanged && !changed('extraPlayers')) return;
    this.#checkCount(this.#members.size + next.extraPlayers);
    this.#settings = next;
    this.#content = undefined;
    this.#refreshOthers(undefined, settingsChanged ? 'settings' : 'count');
  }

  /**
   * Sends server invites on behalf of `sender` with this group's connection string and
   * platform: duplicates removed, split into calls of at most 16, within the sender's invite
   * budget (7 per 15 s, 50 per 300 s), Retry-After honoured. Bad xuids are refused, not thrown.
   *
   * @example
   * const { sent, refused } = await match.invite(host, [friendA, friendB]);
   */
  async invite(sender: XuidInput, xuids: readonly XuidInput[]): Promise<InviteResult> {
    this.#assertUsable();
    const from = parseInput(xuidSchema, sender, 'sender', ['sender']);
    if (!Array.isArray(xuids)) throw new MpaValidationError('invite', [{ path: ['invitedUsers'], message: 'invitedUsers must be an array of xuids' }]);
    const valid: string[] = [];
    const refused: InviteResult['refused'] = [];
    for (const [i, xuid] of xuids.entries()) {
      try {
        const id = parseInput(xuidSchema, xuid, 'invitedUsers', ['invitedUsers', i]);
        if (!valid.includes(id)) valid.push(id);
      } catch (error) {
        refused.push({ xuid: String(xuid), error: error as MpaValidationError });
      }
    }
    const result = await this.#host.invite(this.groupId, this.#settings, from, valid);
    return { sent: result.sent, refused: [...refused, ...result.refused] };
  }

  /**
   * Reports who played with whom since the last report: each team of 2+ as `Teammate`, the
   * whole match as `Opponent` (or `Default`); 1-20 groups per call, within the recent-players
   * budget. Called at close when the `recentPlayers` option is set.
   */
  async reportRecentPlayers(options: { encounterType?: 'Opponent' | 'Default'; teams?: readonly (readonly XuidInput[])[] } = {}): Promise<RecentPlayersResult> {
    parseInput(reportOptionsSchema, options, 'recent-players options');
    const timestamp = new Date(this.#host.wallNow()).toISOString();
    const group = (ids: readonly string[], encounterType: EncounterType): RecentPlayerGroupInput => ({
      recentPlayers: ids.slice(0, LIMITS.recentPlayersMax).map((id) => ({ id })),
      timestamp,
      encounterType,
    });
    const teams = (options.teams ?? []).map((team, i) => [...new Set(team.map((x, j) => parseInput(xuidSchema, x, 'teams', ['teams', i, j])))]);
    const everyone = [...this.#played];
    const groups = [
      ...teams.filter((t) => t.length >= LIMITS.recentPlayersMin).map((t) => group(t, 'Teammate')),
      ...(everyone.length >= LIMITS.recentPlayersMin ? [group(everyone, options.encounterType ?? 'Opponent')] : []),
    ];
    this.#played.clear();
    for (const m of this.#members) if (this.#played.size < LIMITS.recentPlayersMax) this.#played.add(m);
    if (groups.length === 0) return { reported: 0, refused: [] };
    return this.#host.reportRecentPlayers(this.groupId, groups);
  }

  /** Everyone leaves and the group is removed; resolves when their DELETEs are settled. */
  async close(): Promise<void> {
    if (this.#closed) return;
    const report = this.#autoReport();
    const members = this.leaveAll();
    this.#host.release(this);
    await Promise.all([this.#host.settled(members), report]);
  }

  /** The automatic report (at close, on the interval): failures become `error` events. */
  async #autoReport(): Promise<void> {
    if (!this.#recent) return;
    try {
      // The studio's teams() runs here, on a timer or at close: whatever it throws must end in
      // this try, never in an unhandled rejection.
      const teams = this.#recent.teams?.() ?? [];
      const result = await this.reportRecentPlayers({ encounterType: this.#recent.encounterType, teams });
      for (const r of result.refused.slice(0, 1)) this.#host.onError(r.error, this.groupId);
    } catch (error) {
      const name = error instanceof Error ? error.name : typeof error;
      this.#host.onError(error instanceof MpaError ? error : new MpaUsageError(`recentPlayers.teams() threw (${name}); group ${this.groupId}'s recent players were not reported`), this.groupId);
    }
  }

  /** @internal Leaves everyone, for the engine's close. */
  leaveAll(): readonly string[] {
    const members = this.members;
    // Closed first: everyone is leaving, so nobody's count is refreshed on the way out.
    this.#closed = true;
    for (const xuid of members) this.leave(xuid);
    this.#stopInterval?.();
    return members;
  }

  #remove(xuid: string): boolean {
    if (!this.#members.delete(xuid)) return false;
    this.#content = undefined;
    if (this.#members.size > 0 && !this.#closed) this.#refreshOthers(undefined, 'count');
    return true;
  }

  #refreshOthers(except: string | undefined, reason: SendReason): void {
    const activity = this.#activity();
    for (const member of this.#members) if (member !== except) this.#host.desire(member, this.groupId, activity, reason);
  }

  /** The activity every member shares now (one frozen object per change, not one per member). */
  #activity(): ActivityContent {
    if (this.#content) return this.#content;
    const s = this.#settings;
    this.#content = Object.freeze({
      connectionString: s.connectionString,
      joinRestriction: s.joinRestriction,
      currentPlayers: Math.max(1, this.currentPlayers),
      maxPlayers: s.maxPlayers,
      groupId: this.groupId,
      ...(s.platform !== undefined && { platform: s.platform }),
    });
    return this.#content;
  }

  #checkCount(count: number): void {
    if (count > LIMITS.currentPlayersMax) {
      throw new MpaValidationError('group', [{ path: ['currentPlayers'], message: `currentPlayers would be ${count}; the service allows at most ${LIMITS.currentPlayersMax}` }]);
    }
  }

  #assertUsable(): void {
    this.#host.assertOpen();
    if (this.#closed) throw new MpaUsageError(`group ${this.groupId} is closed`);
  }
}
