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

/** One player's groups and the activity each wants for them, in the order they joined (most players have one). */
export class Memberships {
  #groups: [groupId: string, activity: ActivityContent][] = [];

  /**
   * Records a group's change (`activity` null: the player left it); returns what the player
   * should show now, or undefined when that did not change.
   */
  change(groupId: string, activity: ActivityContent | null, reason: SendReason): Shown | undefined {
    const before = this.#groups.at(-1);
    const at = this.#groups.findIndex(([id]) => id === groupId);
    if (activity === null) {
      if (at !== -1) this.#groups = this.#groups.filter(([id]) => id !== groupId);
    } else if (at === -1 || reason === 'join') {
      // A join moves the group to the end: the one shown.
      this.#groups = [...this.#groups.filter(([id]) => id !== groupId), [groupId, activity]];
    } else this.#groups[at] = [groupId, activity];
    const after = this.#groups.at(-1);
    if (after === undefined) return { groupId, activity: null, reason: 'leave' };
    if (before !== undefined && after[0] === before[0] && after[1] === before[1]) return undefined;
    // Falling back to another group changes the activity's settings, not a join.
    return { groupId: after[0], activity: after[1], reason: after[0] !== groupId ? 'settings' : reason };
  }
}
