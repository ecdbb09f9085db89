/**
 * The calls outside the player charts: server invites and recent-players reports. Each is split
 * into the service's batch sizes, sent within the budget of whoever sends it, and retried as the
 * one retry policy says (at most `maxAttempts`). What happened is told through `report`.
 */
import type { MpaClient } from '../client.js';
import { MpaError, MpaTransportError, MpaValidationError } from '../errors.js';
import type { RateCategory } from '../rate-limits.js';
import { LIMITS, type RecentPlayerGroupInput } from '../schemas.js';
import { sleep } from '../sleep.js';
import type { EngineClock } from './clock.js';
import type { InviteResult, RecentPlayersResult } from './events.js';
import type { FailedCall, RetryDecision } from './retry-policy.js';
import type { Scheduler } from './scheduler.js';

/** What a POST tells its owner: a request that finished, and the decision after a failure. */
export type PostReport =
  | { kind: 'request'; xuid: string; groupId: string; reason: 'invite' | 'recentPlayers'; status: number; latencyMs: number; attempt: number; error: MpaError | undefined }
  | { kind: 'failed'; xuid: string; groupId: string; category: RateCategory; error: MpaError; decision: RetryDecision; attempt: number };

/** What the POSTs of an engine share with it. */
export interface PostDeps {
  client: MpaClient;
  scheduler: Scheduler;
  clock: EngineClock;
  signal: AbortSignal;
  decide(failed: FailedCall): RetryDecision;
  report(report: PostReport): void;
}

/** Sends server invites on behalf of `sender`, at most 16 users a call. */
export async function sendInvites(deps: PostDeps, groupId: string, settings: { connectionString: string; platform?: string | undefined }, sender: string, xuids: readonly string[]): Promise<InviteResult> {
  const result: InviteResult = { sent: [], refused: [] };
  const { connectionString, platform } = settings;
  for (let i = 0; i < xuids.length; i += LIMITS.invitedUsersMax) {
    const chunk = xuids.slice(i, i + LIMITS.invitedUsersMax);
    const error = await callWithRetries(deps, { xuid: sender, groupId }, 'invite', 'invite', (signal) =>
      deps.client.sendServerInvite({ sender, invitedUsers: chunk, connectionString, ...(platform !== undefined && { platform: platform as never }) }, { signal }),
    );
    if (error) result.refused.push(...chunk.map((xuid) => ({ xuid, error })));
    else result.sent.push(...chunk);
  }
  return result;
}

/** Reports recent-player groups, at most 20 a call, on this server's own budget. */
export async function reportRecentPlayers(deps: PostDeps, groupId: string, groups: RecentPlayerGroupInput[]): Promise<RecentPlayersResult> {
  const result: RecentPlayersResult = { reported: 0, refused: [] };
  for (let i = 0; i < groups.length; i += LIMITS.recentPlayerGroupsMax) {
    const chunk = groups.slice(i, i + LIMITS.recentPlayerGroupsMax);
    // The budget is the caller's (this server's), not any one player's.
    const error = await callWithRetries(deps, { xuid: 'server', groupId }, 'recentPlayers', 'recentPlayers', (signal) => deps.client.reportRecentPlayerGroups(chunk, { signal }));
    if (error) result.refused.push(...chunk.map((g) => ({ players: g.recentPlayers.map((p) => String(p.id)), error })));
    else result.reported += chunk.length;
  }
  return result;
}

/** One call: within the budget of `base.xuid`, retried as the policy decides. Resolves with the last error, if it failed. */
async function callWithRetries(deps: PostDeps, base: { xuid: string; groupId: string }, category: RateCategory, reason: 'invite' | 'recentPlayers', call: (signal: AbortSignal) => Promise<void>): Promise<MpaError | undefined> {
  const { scheduler, clock, signal } = deps;
  for (let attempt = 0; ; attempt++) {
    let startedAt = clock.monotonic();
    let failure: unknown;
    let sent = false;
    try {
      for (;;) {
        const lease = scheduler.acquire(base.xuid, 1, category);
        if (typeof lease !== 'number') {
          await scheduler.run(lease, async () => {
            startedAt = clock.monotonic();
            sent = true;
            try {
              signal.throwIfAborted();
              await call(signal);
            } catch (error) {
              failure = error;
            }
            return true;
          });
          break;
        }
        await sleep(lease, signal, clock);
      }
    } catch (error) {
      failure = error;
    }
    const error = failure === undefined ? undefined : failure instanceof MpaError ? failure : new MpaTransportError('aborted', 'stopped by close()', { cause: failure });
    // A call the client refused before sending is not a request.
    if (sent && !(error instanceof MpaValidationError)) {
      deps.report({ kind: 'request', ...base, reason, status: error ? (error.status ?? 0) : 204, latencyMs: Math.round(clock.monotonic() - startedAt), attempt, error });
    }
    if (!error) return undefined;
    if (signal.aborted) return error;
    const decision = deps.decide({ error, attempt, call: 'post' });
    deps.report({ kind: 'failed', ...base, category, error, decision, attempt });
    if (decision.kind !== 'retry') return error;
    try {
      await sleep(decision.delayMs, signal, clock);
    } catch {
      return error;
    }
  }
}
