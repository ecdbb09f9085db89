/**
 * mpa-sync: what a game server imports. The client and its server-to-server authentication,
 * the engine that keeps every player's activity true, and the errors, with their option and
 * event types. The emulator, the test kit and the adapters have entry points of their own
 * (`mpa-sync/emulator`, `mpa-sync/testing`, `mpa-sync/colyseus`, `mpa-sync/agones`,
 * `mpa-sync/otel`).
 */
export { MpaClient } from './client.js';
export type { MpaClientOptions, AuthorizationProvider } from './client.js';
export { xboxServiceAuth } from './auth/service-auth.js';
export type { XboxServiceAuth, XboxServiceAuthOptions } from './auth/service-auth.js';
export { xboxSequenceNumber } from './sequence.js';
export type { Activity, ActivityInput } from './schemas.js';
export { ActivitySync } from './engine/activity-sync.js';
export type { ActivitySyncOptions, CloseResult, FlushResult } from './engine/activity-sync.js';
export { MatchGroup } from './engine/group.js';
export type { GroupOptions } from './engine/group.js';
export type { SyncEvents, SyncEvent, SyncStats } from './engine/events.js';
export { bindMatchmaker } from './matchmaker-binding.js';
export type { MatchmakerBindingOptions } from './matchmaker-binding.js';
export {
  MpaError,
  MpaValidationError,
  MpaRequestRejectedError,
  MpaAuthorizationError,
  MpaThrottledError,
  MpaServerError,
  MpaTransportError,
  MpaUsageError,
  MpaClosedError,
} from './errors.js';
export type { MpaErrorCode } from './errors.js';
