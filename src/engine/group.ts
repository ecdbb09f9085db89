/**
 * A match, room or server instance: its members and join settings. Every change is turned into
 * the desired activity of each member and handed to the engine.
 */
import { z } from 'zod';
import { MpaUsageError, MpaValidationError } from '../errors.js';
import {
  connectionStringSchema,
  groupIdSchema,
  joinRestrictionSchema,
  LIMITS,
  maxPlayersSchema,
  parseInput,
  platformSchema,
  xuidSchema,
  type XuidInput,
} from '../schemas.js';
import type { Desired, SendReason } from './player-machine.js';
import { PRIORITY, type Priority } from './scheduler.js';

const extraPlayersSchema = z.number().int({ error: 'extraPlayers must be an integer' }).min(0, { error: 'extraPlayers must be at least 0' }).max(LIMITS.currentPlayersMax, { error: `extraPlayers must be at most ${LIMITS.currentPlayersMax}` });

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

export const groupOptionsSchema = groupSettingsSchema.extend({
  groupId: groupIdSchema.min(1, { error: 'groupId must not be empty' }),
});
/** Options of {@link ActivitySync.group}. */
export type GroupOptions = z.input<typeof groupOptionsSchema>;
/** A change to a group's settings: any subset. */
export type GroupUpdate = Partial<z.input<typeof groupSettingsSchema>>;
type Settings = z.output<typeof groupSettingsSchema>;

/** What a group needs from its engine. */
export interface GroupHost {
  desire(xuid: string, desired: Desired): void;
  stamp(xuid: string): bigint;
  /** Moves `xuid` out of the group it is in, if any; returns that group. */
  claim(xuid: string, group: MatchGroup): void;
  release(group: MatchGroup): void;
  settled(xuids: readonly string[]): Promise<void>;
  assertOpen(): void;
}

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
  #closed = false;

  /** @internal */
  constructor(
    options: GroupOptions,
    private readonly host: GroupHost,
  ) {
    const parsed = parseInput(groupOptionsSchema, options, 'group options');
    this.groupId = parsed.groupId;
    const { groupId: _id, ...settings } = parsed;
    this.#settings = settings;
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
    return this.#members.has(parseInput(xuidSchema, xuid, 'xuid', ['xuid']));
  }

  /**
   * Adds a player: PUT for them, and a count refresh for the others. Joining a group the
   * player is already in is a no-op (returns false); joining another group moves the player.
   */
  join(xuid: XuidInput): boolean {
    this.#assertUsable();
    const id = parseInput(xuidSchema, xuid, 'xuid', ['xuid']);
    if (this.#members.has(id)) return false;
    this.#checkCount(this.currentPlayers + 1);
    this.host.claim(id, this);
    this.#members.add(id);
    this.host.desire(id, this.#put(id, 'join', PRIORITY.settings));
    this.#refreshOthers(id, 'count', PRIORITY.count);
    return true;
  }

  /** Removes a player: DELETE for them, a count refresh for the others. Not a member: no-op, returns false. */
  leave(xuid: XuidInput): boolean {
    this.host.assertOpen();
    const id = parseInput(xuidSchema, xuid, 'xuid', ['xuid']);
    if (!this.#remove(id)) return false;
    this.host.desire(id, { method: 'DELETE', groupId: this.groupId, sequenceNumber: this.host.stamp(id), priority: PRIORITY.leave, reason: 'leave' });
    return true;
  }

  /**
   * Changes settings; every member's activity follows. A change of connection string, join
   * restriction, max players or platform outranks a change of `extraPlayers` alone.
   */
  update(patch: GroupUpdate): void {
    this.#assertUsable();
    const parsed = parseInput(groupSettingsSchema.partial(), patch, 'group update');
    const next: Settings = { ...this.#settings };
    for (const [key, value] of Object.entries(parsed)) if (key in patch) (next as Record<string, unknown>)[key] = value;
    const changed = (k: keyof Settings) => next[k] !== this.#settings[k];
    const settingsChanged = changed('connectionString') || changed('joinRestriction') || changed('maxPlayers') || changed('platform');
    if (!settingsChanged && !changed('extraPlayers')) return;
    this.#checkCount(this.#members.size + next.extraPlayers);
    this.#settings = next;
    if (settingsChanged) this.#refreshOthers(undefined, 'settings', PRIORITY.settings);
    else this.#refreshOthers(undefined, 'count', PRIORITY.count);
  }

  /** Everyone leaves and the group is removed; resolves when their DELETEs are settled. */
  async close(): Promise<void> {
    if (this.#closed) return;
    const members = this.members;
    for (const xuid of members) this.leave(xuid);
    this.#closed = true;
    this.host.release(this);
    await this.host.settled(members);
  }

  /** @internal Drops a member without a DELETE (they moved to another group). */
  moveOut(xuid: string): void {
    this.#remove(xuid);
  }

  /** @internal Leaves everyone, for the engine's close. */
  leaveAll(): readonly string[] {
    const members = this.members;
    for (const xuid of members) this.leave(xuid);
    this.#closed = true;
    return members;
  }

  #remove(xuid: string): boolean {
    if (!this.#members.delete(xuid)) return false;
    if (this.#members.size > 0) this.#refreshOthers(undefined, 'count', PRIORITY.count);
    return true;
  }

  #refreshOthers(except: string | undefined, reason: SendReason, priority: Priority): void {
    for (const member of this.#members) if (member !== except) this.host.desire(member, this.#put(member, reason, priority));
  }

  #put(xuid: string, reason: SendReason, priority: Priority): Desired {
    const s = this.#settings;
    return {
      method: 'PUT',
      groupId: this.groupId,
      activity: {
        connectionString: s.connectionString,
        joinRestriction: s.joinRestriction,
        currentPlayers: Math.max(1, this.currentPlayers),
        maxPlayers: s.maxPlayers,
        groupId: this.groupId,
        ...(s.platform !== undefined && { platform: s.platform }),
      },
      sequenceNumber: this.host.stamp(xuid),
      priority,
      reason,
    };
  }

  #checkCount(count: number): void {
    if (count > LIMITS.currentPlayersMax) {
      throw new MpaValidationError('group', [{ path: ['currentPlayers'], message: `currentPlayers would be ${count}; the service allows at most ${LIMITS.currentPlayersMax}` }]);
    }
  }

  #assertUsable(): void {
    this.host.assertOpen();
    if (this.#closed) throw new MpaUsageError(`group ${this.groupId} is closed`);
  }
}
