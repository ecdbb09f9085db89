/**
 * Which group a player's activity shows. A player may be in several groups at once (a lobby
 * and a match): each group's desired activity for them is kept, in the order they joined, and
 * the activity shows the group joined most recently among those that still hold them.
 */
import type { ActivityContent, SendReason } from './desired.js';

/** What the player should show now: a group's activity, or nothing (they left every group). */
export interface Shown {
  groupId: string;
  activity: ActivityContent | null;
  reason: SendReason;
}

/** One player's groups and the activity each wants for them. */
export class Memberships {
  readonly #groups = new Map<string, ActivityContent>();

  /**
   * Records a group's change (`activity` null: the player left it); returns what the player
   * should show now, or undefined when that did not change.
   */
  change(groupId: string, activity: ActivityContent | null, reason: SendReason): Shown | undefined {
    const before = this.#shown();
    if (activity === null) this.#groups.delete(groupId);
    else {
      // A join moves the group to the end: the one shown.
      if (reason === 'join') this.#groups.delete(groupId);
      this.#groups.set(groupId, activity);
    }
    const after = this.#shown();
    if (after === undefined) return { groupId, activity: null, reason: 'leave' };
    if (before !== undefined && after[0] === before[0] && after[1] === before[1]) return undefined;
    // Falling back to another group changes the activity's settings, not a join.
    return { groupId: after[0], activity: after[1], reason: after[0] !== groupId ? 'settings' : reason };
  }

  #shown(): [string, ActivityContent] | undefined {
    let last: [string, ActivityContent] | undefined;
    for (const entry of this.#groups) last = entry;
    return last;
  }
}
