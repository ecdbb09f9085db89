/**
 * `mpa-sync/agones`: one call connects a game server running on Agones to an ActivitySync, so
 * its players' Xbox Multiplayer Activity follows what Agones knows (allocation, players,
 * capacity, address, shutdown). Pass it the `@google-cloud/agones-sdk` client (an optional peer
 * dependency); this entry point itself loads nothing of it.
 */
export { publishGameServerActivity } from './game-server-activity.js';
export type { AgonesSdkClient, GameServerActivity, GameServerActivityOptions, SignalSource } from './game-server-activity.js';
export type { AgonesGameServer, AgonesGameServerObject } from './game-server.js';
export type { PlayerTracking, PlayerXuidResolver } from './roster.js';
export { GROUP_ID_KEY, JOIN_RESTRICTION_KEY } from './settings.js';
export type { ConnectionStringSource, MetadataKeys } from './settings.js';
export type { ReconnectOptions, WatchTimers } from './watch.js';
