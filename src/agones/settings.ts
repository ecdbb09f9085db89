/**
 * A group's settings from the GameServer: the connection string from its address and port,
 * the join restriction and group id from labels or annotations set at allocation.
 */
import { MpaUsageError, MpaValidationError, type MpaError } from '../errors.js';
import { groupIdSchema, joinRestrictionSchema, LIMITS, type JoinRestriction } from '../schemas.js';
import type { AgonesGameServer } from './game-server.js';

/** The annotation (or label) an allocation sets to choose the join restriction. */
export const JOIN_RESTRICTION_KEY = 'mpa-sync/join-restriction';
/** The annotation (or label) an allocation sets to choose the group id. */
export const GROUP_ID_KEY = 'mpa-sync/group-id';

/** Names of the metadata keys the adapter reads. */
export interface MetadataKeys {
  /** Default `mpa-sync/join-restriction`. */
  joinRestriction?: string;
  /** Default `mpa-sync/group-id`. */
  groupId?: string;
}

/** The connection string: fixed, or computed from the GameServer. */
export type ConnectionStringSource = string | ((gameServer: AgonesGameServer) => string);

/** An annotation wins over a label of the same name (annotations take any value; labels only short ones). */
export function metadataValue(gs: AgonesGameServer, key: string): string | undefined {
  return gs.annotations[key] ?? gs.labels[key];
}

/** `address:port`, the address bracketed when it is IPv6. */
export function defaultConnectionString(gs: AgonesGameServer, portName: string | undefined): string | MpaError {
  const port = portName === undefined ? (gs.ports.find((p) => p.name === 'default') ?? gs.ports[0]) : gs.ports.find((p) => p.name === portName);
  if (!gs.address) return new MpaUsageError(`GameServer ${gs.name} has no address yet: no connection string to publish`);
  if (!port || !port.port) {
    const names = gs.ports.map((p) => p.name).join(', ') || 'none';
    return new MpaUsageError(`GameServer ${gs.name} has no port ${portName === undefined ? '' : `named ${portName} `}(its ports: ${names}): no connection string to publish`);
  }
  const host = gs.address.includes(':') ? `[${gs.address}]` : gs.address;
  return `${host}:${port.port}`;
}

/** The join restriction the metadata asks for, or an error naming the key and the allowed values. */
export function joinRestrictionOf(gs: AgonesGameServer, key: string, fallback: JoinRestriction): JoinRestriction | MpaError {
  const raw = metadataValue(gs, key);
  if (raw === undefined || raw === '') return fallback;
  const parsed = joinRestrictionSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  return new MpaValidationError('agones metadata', [{ path: [key], message: `${JSON.stringify(raw)} is not a join restriction (Public, Followed or InviteOnly); publishing ${fallback}` }]);
}

/** The group id the metadata asks for (or the GameServer's name), or an error and the fallback. */
export function groupIdOf(gs: AgonesGameServer, key: string): { groupId: string; error?: MpaError } {
  const fallback = gs.name.slice(0, LIMITS.groupIdMax) || 'agones-game-server';
  const raw = metadataValue(gs, key);
  if (raw === undefined || raw === '') return { groupId: fallback };
  const parsed = groupIdSchema.min(1).safeParse(raw);
  if (parsed.success) return { groupId: parsed.data };
  return { groupId: fallback, error: new MpaValidationError('agones metadata', [{ path: [key], message: `group id must be 1..${LIMITS.groupIdMax} characters; using the GameServer's name ${fallback}` }]) };
}
