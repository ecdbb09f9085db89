/**
 * `mpa-sync/colyseus`: one call in a Colyseus 0.18 room's `onCreate` keeps its players'
 * Xbox Multiplayer Activity true. Needs `@colyseus/core` (an optional peer dependency).
 */
export { publishRoomActivity } from './room-activity.js';
export type { RoomActivity, RoomActivityOptions, XuidResolver } from './room-activity.js';
