/**
 * mpa-sync public API.
 */
export { MpaClient, DEFAULT_BASE_URL } from './client.js';
export type { MpaClientOptions, AuthorizationProvider, AuthorizationRequest, AuthorizationResult, ObservedResponse, CallOptions, UserActivities } from './client.js';
export { xboxServiceAuth, DEFAULT_SERVICE_AUTH_URL, DEFAULT_XSTS_URL } from './auth/service-auth.js';
export type { XboxServiceAuth, XboxServiceAuthOptions } from './auth/service-auth.js';
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
export type { MpaErrorCode, MpaErrorDetails, ValidationIssue, TransportReason } from './errors.js';
export { parseRetryAfter } from './retry-after.js';
export type { RetryAfterOptions } from './retry-after.js';
export { xboxSequenceNumber, SequenceStamper } from './sequence.js';
export type { SequenceSource } from './sequence.js';
export { seededRandom } from './random.js';
export type { RandomSource } from './random.js';
export { DOCUMENTED_RATE_LIMITS } from './rate-limits.js';
export type { RateLimitConfig, RateLimitOverride, CategoryLimits, RateCategory } from './rate-limits.js';
export { LIMITS } from './schemas.js';
export type {
  Activity,
  ActivityInput,
  DeleteInput,
  InviteInput,
  RecentPlayerGroupInput,
  JoinRestriction,
  Platform,
  EncounterType,
  ThrottledEntity,
  XuidInput,
  SequenceNumberInput,
} from './schemas.js';
export { ActivitySync } from './engine/activity-sync.js';
export { throttleScope } from './engine/retry-policy.js';
export type { ActivitySyncOptions, CloseResult, FlushResult } from './engine/activity-sync.js';
export type { ClockInput } from './engine/clock.js';
export { MatchGroup } from './engine/group.js';
export type { GroupOptions, GroupUpdate } from './engine/group.js';
export type { SendReason } from './engine/desired.js';
export type {
  SyncEvents,
  SyncStats,
  RequestEvent,
  ThrottledEvent,
  RetryEvent,
  SyncedEvent,
  ErrorEvent,
  StateEvent,
  ListenerErrorEvent,
  PlayerStateName,
  PlayerEventBase,
} from './engine/events.js';
export { bindMatchmaker } from './matchmaker-binding.js';
export type { EventSource, MatchmakerBindingOptions } from './matchmaker-binding.js';
export type { InviteResult, RecentPlayersResult } from './engine/events.js';
export type { RecentPlayersOptions } from './engine/group.js';
