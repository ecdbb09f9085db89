/**
 * `mpa-sync/emulator`: a local Multiplayer Activity service for demos, tests and CI, with no
 * Xbox credentials. A game server never imports it in production, so it lives apart from the
 * main entry. Only what a test or a demo needs is exported: the types of the `authorize` hook
 * and of `EmulatorCore.handle`'s request stay internal (the S2S mode is their user).
 *
 * @example
 * import { startEmulator } from 'mpa-sync/emulator';
 * const emulator = await startEmulator({ port: 0, host: '127.0.0.1' });
 * console.log(emulator.url); // point MpaClient's baseUrl here
 * await emulator.close();
 */
export { startEmulator, inProcessFetch } from './server.js';
export type { Emulator, StartEmulatorOptions } from './server.js';
export type { S2sOptions, S2sCredentials } from './s2s.js';
export { EmulatorCore } from './core.js';
export type {
  EmulatorOptions,
  FaultKind,
  FaultOptions,
  StoredActivity,
  LoggedRequest,
  RecordedInvite,
  RecordedRecentPlayerGroup,
  EmulatorCounters,
  RateUsage,
} from './core.js';
export type { WindowUsage } from '../sliding-window.js';
export type { Presence, InspectedActivity, InspectedRequest, InspectedS2s, PlayerBudget, WindowGauge } from './inspection.js';
