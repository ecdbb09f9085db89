/**
 * The GameServer as `@google-cloud/agones-sdk` hands it over (protobuf `toObject()`: maps as
 * `[key, value][]`, repeated fields as `...List`), and the plain view the adapter and your
 * functions read instead.
 */

/** A GameServer as the Node client's `getGameServer()` and `watchGameServer()` give it. Every field may be missing. */
export interface AgonesGameServerObject {
  objectMeta?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: number;
    deletionTimestamp?: number;
    annotationsMap?: [string, string][];
    labelsMap?: [string, string][];
  };
  status?: {
    state?: string;
    address?: string;
    addressesList?: { type?: string; address?: string }[];
    portsList?: { name?: string; port?: number }[];
    players?: { count?: number; capacity?: number; idsList?: string[] };
    countersMap?: [string, { count?: number; capacity?: number }][];
    listsMap?: [string, { capacity?: number; valuesList?: string[] }][];
  };
}

/** A GameServer, read: what the adapter acts on and what your `connectionString` and `xuid` functions receive. */
export interface AgonesGameServer {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  /** `Scheduled`, `RequestReady`, `Ready`, `Reserved`, `Allocated`, `Shutdown`, `Unhealthy`... */
  state: string;
  /** The public address (`status.address`). */
  address: string;
  ports: { name: string; port: number }[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Beta Lists (with the `CountsAndLists` feature gate). */
  lists: Record<string, { capacity: number; values: string[] }>;
  /** Alpha player tracking (with the `PlayerTracking` feature gate), when Agones sends it. */
  players: { count: number; capacity: number; ids: string[] } | undefined;
  /** Unix seconds; non-zero once the GameServer is being deleted. */
  deletionTimestamp: number;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const pairs = (v: unknown): [string, unknown][] => (Array.isArray(v) ? v.filter((p): p is [string, unknown] => Array.isArray(p) && typeof p[0] === 'string') : []);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);

/** Reads what the client gave, tolerating any missing or malformed field (it never throws). */
export function readGameServer(raw: unknown): AgonesGameServer {
  const gs = (typeof raw === 'object' && raw !== null ? raw : {}) as AgonesGameServerObject;
  const meta = gs.objectMeta ?? {};
  const status = gs.status ?? {};
  const players = status.players;
  return {
    name: text(meta.name),
    namespace: text(meta.namespace),
    uid: text(meta.uid),
    resourceVersion: text(meta.resourceVersion),
    state: text(status.state),
    address: text(status.address),
    ports: (Array.isArray(status.portsList) ? status.portsList : []).map((p) => ({ name: text(p?.name), port: num(p?.port) })),
    labels: Object.fromEntries(pairs(meta.labelsMap).map(([k, v]) => [k, text(v)])),
    annotations: Object.fromEntries(pairs(meta.annotationsMap).map(([k, v]) => [k, text(v)])),
    lists: Object.fromEntries(
      pairs(status.listsMap).map(([k, v]) => {
        const list = (v ?? {}) as { capacity?: unknown; valuesList?: unknown };
        return [k, { capacity: num(list.capacity), values: strings(list.valuesList) }];
      }),
    ),
    players: players && typeof players === 'object' ? { count: num(players.count), capacity: num(players.capacity), ids: strings(players.idsList) } : undefined,
    deletionTimestamp: num(meta.deletionTimestamp),
  };
}
