/**
 * What each call of the service does once the request is routed, authorized and within its
 * rate limits. Every body is checked by one zod parse against the schemas the client uses
 * (src/schemas.ts), so the emulator accepts exactly what they accept and every 400 message is
 * zod's. Where the service is more lenient than the client, so is the emulator: unknown fields
 * are ignored, sequence numbers may be strings (the REST reference) or numbers (the SDK), and
 * platforms match case-insensitively (the SDK sends `iOS` where the REST pages say `IOS`).
 */
import { z } from 'zod';
import { activityInputSchema, deleteInputSchema, inviteInputSchema, LIMITS, recentPlayerGroupsSchema, wirePlatformSchema, xuidSchema } from '../schemas.js';
import { invalid, json, noContent, type CoreResponse } from './answers.js';
import type { RingBuffer } from './ring-buffer.js';
import type { Route } from './routes.js';
import type { ActivityStore, StoredActivity } from './store.js';

/** An invite the emulator accepted. */
export interface RecordedInvite {
  time: number;
  titleId: number;
  sender: string;
  invitedUsers: string[];
  connectionString?: string | undefined;
  platform?: string | undefined;
}

/** A recent-player group the emulator accepted. */
export interface RecordedRecentPlayerGroup {
  time: number;
  titleId: number;
  players: string[];
  timestamp: string;
  encounterType: string;
}

const activityBody = z.object({ ...activityInputSchema.shape, platform: wirePlatformSchema.optional() });
const deleteBody = z.object(deleteInputSchema.shape);
const inviteBody = z.object({ ...inviteInputSchema.shape, platform: wirePlatformSchema.optional() });
const queryBody = z.object({ users: z.array(xuidSchema).min(1).max(LIMITS.queryUsersMax, { error: `at most ${LIMITS.queryUsersMax} users per query` }) });
const recentBody = z.object({ recentPlayerGroups: recentPlayerGroupsSchema });

/** What the calls read and change. */
export interface ServiceState {
  readonly store: ActivityStore;
  readonly invites: RingBuffer<RecordedInvite>;
  readonly recentPlayerGroups: RingBuffer<RecordedRecentPlayerGroup>;
  /** What a write whose sequence number is not greater than the last gets: 400, or 204 and no change. */
  readonly staleSequence: 'reject' | 'ignore';
}

/** One call, for `subject` (the path's xuid in canonical form, or the caller) in `titleId`. */
export interface Call {
  route: Exclude<Route, { kind: 'wrong-method' }>;
  titleId: number;
  subject: string;
  /** The body as JSON, or as text when it is not JSON (then refused by the parse). */
  body: unknown;
  time: number;
}

/** Serves a routed call; a bad body or a stale write throws the `Refusal` to answer with. */
export function serveCall(state: ServiceState, call: Call): CoreResponse {
  const { route, titleId, subject, body, time } = call;
  switch (route.kind) {
    case 'get': {
      const activity = state.store.get(titleId, subject, time);
      return activity ? json(200, present(activity)) : noContent();
    }
    case 'put': {
      const input = parseBody(activityBody, body);
      if (!isNewer(state, call, input.sequenceNumber)) return noContent();
      const activity: StoredActivity = {
        titleId,
        xuid: subject,
        connectionString: input.connectionString,
        joinRestriction: input.joinRestriction,
        sequenceNumber: input.sequenceNumber.toString(),
        currentPlayers: input.currentPlayers,
        maxPlayers: input.maxPlayers,
        groupId: input.groupId,
        platform: input.platform,
        updatedAt: time,
      };
      state.store.write(titleId, subject, input.sequenceNumber, activity, time);
      return noContent();
    }
    case 'delete': {
      const input = parseBody(deleteBody, body);
      if (!isNewer(state, call, input.sequenceNumber)) return noContent();
      state.store.write(titleId, subject, input.sequenceNumber, undefined, time);
      return noContent();
    }
    case 'invite': {
      const input = parseBody(inviteBody, body);
      state.invites.push({ time, titleId, sender: input.sender, invitedUsers: input.invitedUsers, connectionString: input.connectionString, platform: input.platform });
      return noContent();
    }
    case 'query': {
      const input = parseBody(queryBody, body);
      const userActivities = input.users.map((xuid) => {
        const activity = state.store.get(titleId, xuid, time);
        return { userId: xuid, activities: activity ? [present(activity)] : [] };
      });
      return json(200, { userActivities });
    }
    case 'recent': {
      const input = parseBody(recentBody, body);
      for (const group of input.recentPlayerGroups) {
        state.recentPlayerGroups.push({ time, titleId, players: group.recentPlayers.map((p) => p.id), timestamp: group.timestamp, encounterType: group.encounterType });
      }
      return noContent();
    }
  }
}

/**
 * Whether a write's sequence number is greater than the user's last accepted one. A stale
 * write is refused with a 400, or (with `staleSequence: 'ignore'`) answered 204 and dropped.
 */
function isNewer(state: ServiceState, { titleId, subject, time }: Call, sequenceNumber: bigint): boolean {
  const last = state.store.lastSequence(titleId, subject, time);
  if (last === undefined || sequenceNumber > last) return true;
  if (state.staleSequence === 'ignore') return false;
  throw invalid(`sequenceNumber ${sequenceNumber} is not greater than the last accepted ${last}`);
}

/** An invite's sender, when the body names one as a string: the invite's subject. */
export function senderOf(body: unknown): string | undefined {
  return typeof body === 'object' && body !== null && typeof (body as { sender?: unknown }).sender === 'string' ? (body as { sender: string }).sender : undefined;
}

/** The body parsed by `schema`, or the 400 naming the first field that is wrong. */
function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw invalid(`${issue.path.join('.') || 'body'}: ${issue.message}`);
}

/** An activity as the service answers it: `userId` for the xuid, absent fields left out. */
function present(a: StoredActivity) {
  return {
    titleId: a.titleId,
    userId: a.xuid,
    connectionString: a.connectionString,
    joinRestriction: a.joinRestriction,
    sequenceNumber: a.sequenceNumber,
    ...(a.currentPlayers !== undefined && { currentPlayers: a.currentPlayers }),
    ...(a.maxPlayers !== undefined && { maxPlayers: a.maxPlayers }),
    ...(a.groupId !== undefined && { groupId: a.groupId }),
    ...(a.platform !== undefined && { platform: a.platform }),
  };
}
