/**
 * The GameServer a local Agones SDK server holds, and the rules its SDK calls follow: state
 * changes, labels and annotations, Counters and Lists (beta), player tracking (alpha), with the
 * error messages Agones' own SDK server (v1.61, `pkg/sdkserver/sdkserver.go`) gives. No gRPC
 * here: `agones-sdk-server.ts` carries these calls over the wire.
 */
import { MpaUsageError, MpaValidationError } from '../errors.js';

/** GameServer states (`GameServer.status.state`). */
export type GameServerState = 'Creating' | 'Starting' | 'Scheduled' | 'RequestReady' | 'Ready' | 'Reserved' | 'Allocated' | 'Shutdown' | 'Error' | 'Unhealthy';

const STATES: readonly GameServerState[] = ['Creating', 'Starting', 'Scheduled', 'RequestReady', 'Ready', 'Reserved', 'Allocated', 'Shutdown', 'Error', 'Unhealthy'];

/** The largest capacity Agones allows a List. */
export const LIST_MAX_CAPACITY = 1000;
/** What Agones prefixes to labels and annotations set through the SDK. */
export const SDK_METADATA_PREFIX = 'agones.dev/sdk-';
/** The annotation Agones sets, to an RFC 3339 time, on every allocation. */
export const LAST_ALLOCATED_ANNOTATION = 'agones.dev/last-allocated';

/** A snapshot of the local GameServer (a copy: changing it changes nothing). */
export interface LocalGameServer {
  name: string;
  namespace: string;
  uid: string;
  /** Increases with every change, as Kubernetes' does (a decimal string). */
  resourceVersion: string;
  generation: number;
  /** Unix seconds. */
  creationTimestamp: number;
  /** Unix seconds; 0 while the GameServer is not being deleted. */
  deletionTimestamp: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  health: { disabled: boolean; periodSeconds: number; failureThreshold: number; initialDelaySeconds: number };
  state: GameServerState;
  address: string;
  addresses: { type: string; address: string }[];
  ports: { name: string; port: number }[];
  /** Alpha player tracking; present only with the `PlayerTracking` feature gate on. */
  players: { count: number; capacity: number; ids: string[] } | undefined;
  /** Beta Counters; present only with the `CountsAndLists` feature gate on. */
  counters: Record<string, { count: number; capacity: number }> | undefined;
  /** Beta Lists; present only with the `CountsAndLists` feature gate on. */
  lists: Record<string, { capacity: number; values: string[] }> | undefined;
}

/** The GameServer a local SDK server starts with. Every field is optional. */
export interface LocalGameServerInit {
  /** Default `local` (Agones' local mode). */
  name?: string;
  /** Default `default`. */
  namespace?: string;
  /** Default `1234`. */
  uid?: string;
  /** Default `Ready`, as Agones' local mode starts; `Scheduled` is where a pod in a cluster starts. */
  state?: GameServerState;
  /** Default `127.0.0.1`. */
  address?: string;
  /** Default `[{ name: 'default', port: 7777 }]`. */
  ports?: { name: string; port: number }[];
  /** Default `{ islocal: 'true' }`. */
  labels?: Record<string, string>;
  /** Default `{ annotation: 'true' }`. */
  annotations?: Record<string, string>;
  /**
   * `spec.lists`. Default `{ players: { capacity: 100, values: [] } }` (local mode puts three
   * placeholder ids in it, which are left out here). Capacity defaults to 1000, at most 1000.
   */
  lists?: Record<string, { capacity?: number; values?: string[] }>;
  /** `spec.counters`. Default `{ rooms: { count: 1, capacity: 10 } }` (local mode's). Capacity defaults to 1000. */
  counters?: Record<string, { count?: number; capacity?: number }>;
  /** `spec.players.initialCapacity` and already connected ids (alpha). Default capacity 0, no ids. */
  players?: { capacity?: number; ids?: string[] };
}

/** Feature gates the SDK server honours. */
export interface FeatureGates {
  /** Alpha player tracking. Default false, as in Agones 1.61. */
  PlayerTracking?: boolean;
  /** Beta Counters and Lists. Default true, as in Agones 1.61. */
  CountsAndLists?: boolean;
}

/** What a GameServerAllocation does to the GameServer it picks. */
export interface LocalAllocation {
  /** Labels to set (`metadata.labels`, no prefix). */
  labels?: Record<string, string>;
  /** Annotations to set (`metadata.annotations`, no prefix). */
  annotations?: Record<string, string>;
  /** List actions (`spec.lists`): values to append (duplicates and values past capacity are dropped, as Agones does), a new capacity. */
  lists?: Record<string, { addValues?: string[]; capacity?: number }>;
}

/** An SDK call refused: `code` is the gRPC status the SDK server answers with. */
export class SdkCallError extends Error {
  constructor(
    readonly code: 'UNKNOWN' | 'INVALID_ARGUMENT',
    message: string,
  ) {
    super(message);
  }
}

/** Agones' SDK server answers these with a plain Go error: gRPC UNKNOWN, the meaning in the text only. */
const unknown = (message: string) => new SdkCallError('UNKNOWN', message);

// Kubernetes' qualified-name and label-value rules (apimachinery's validation package).
const NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAME_RULE = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/** Why `key` is not a Kubernetes qualified name, or undefined when it is. */
export function qualifiedNameProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', with an optional DNS subdomain prefix and '/'";
  const [prefix, name] = parts.length === 2 ? parts : [undefined, parts[0]!];
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return 'prefix part must be a lowercase RFC 1123 subdomain';
  if (name!.length === 0) return 'name part must be non-empty';
  if (name!.length > 63) return 'name part must be no more than 63 characters';
  if (!NAME_PART.test(name!)) return NAME_RULE;
  return undefined;
}

function labelValueProblem(value: string): string | undefined {
  if (value.length > 63) return 'must be no more than 63 characters';
  if (value !== '' && !NAME_PART.test(value)) return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  return undefined;
}

/** Timers the Reserve countdown runs on. */
export interface ModelTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: any): void;
}

/**
 * One GameServer and its SDK calls. Every change is applied at once (Agones' local mode does;
 * a cluster's SDK server batches them about once a second) and reported to `onChange`.
 */
export class GameServerModel {
  readonly #gs: LocalGameServer;
  readonly #gates: Required<FeatureGates>;
  readonly #now: () => number;
  readonly #timers: ModelTimers;
  #version = 1;
  #reserveTimer: unknown;
  readonly #listeners = new Set<() => void>();

  constructor(init: LocalGameServerInit, gates: FeatureGates, now: () => number, timers: ModelTimers) {
    this.#gates = { PlayerTracking: gates.PlayerTracking ?? false, CountsAndLists: gates.CountsAndLists ?? true };
    this.#now = now;
    this.#timers = timers;
    this.#gs = buildGameServer(init, this.#gates, now);
  }

  /** Calls `listener` after every change. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  snapshot(): LocalGameServer {
    return structuredClone({ ...this.#gs, resourceVersion: String(this.#version) });
  }

  #changed(): void {
    this.#version++;
    for (const listener of [...this.#listeners]) listener();
  }

  // ---- state (SDK: Ready, Allocate, Shutdown, Reserve; outside: the controller) ----------

  /** Nothing leaves Shutdown or Unhealthy (the SDK server skips such updates). */
  #setState(state: GameServerState): void {
    if (this.#gs.state === 'Shutdown' || this.#gs.state === 'Unhealthy' || this.#gs.deletionTimestamp !== 0) return;
    if (state === 'Allocated') this.#gs.annotations[LAST_ALLOCATED_ANNOTATION] = new Date(this.#now()).toISOString();
    this.#gs.state = state;
    this.#changed();
  }

  #stopReserve(): void {
    if (this.#reserveTimer !== undefined) this.#timers.clearTimeout(this.#reserveTimer);
    this.#reserveTimer = undefined;
  }

  ready(): void {
    this.#stopReserve();
    this.#setState('Ready');
  }

  allocate(): void {
    this.#stopReserve();
    this.#setState('Allocated');
  }

  shutdown(): void {
    this.#stopReserve();
    this.#setState('Shutdown');
  }

  /** Reserved for `seconds` (0: until another state change), then Ready again. */
  reserve(seconds: number): void {
    this.#stopReserve();
    this.#setState('Reserved');
    if (seconds > 0 && this.#gs.state === 'Reserved') {
      this.#reserveTimer = this.#timers.setTimeout(() => {
        this.#reserveTimer = undefined;
        this.#setState('Ready');
      }, seconds * 1000);
    }
  }

  /** The controller's side: any state, e.g. `Unhealthy` after missed health pings. */
  setState(state: GameServerState): void {
    if (!STATES.includes(state)) throw new MpaValidationError('setState', [{ path: ['state'], message: `must be one of ${STATES.join(', ')}` }]);
    this.#stopReserve();
    this.#setState(state);
  }

  /** Marks the GameServer as being deleted (the pod is terminating): Agones sets `deletionTimestamp`. */
  markDeleted(): void {
    if (this.#gs.deletionTimestamp !== 0) return;
    this.#gs.deletionTimestamp = Math.floor(this.#now() / 1000);
    this.#changed();
  }

  /** What the allocator does: labels, annotations and list actions, then `Allocated`. */
  allocateFromOutside(request: LocalAllocation): void {
    if (this.#gs.state !== 'Ready' && this.#gs.state !== 'Allocated') {
      throw new MpaUsageError(`the allocator only picks a Ready (or, with a selector, an Allocated) GameServer; this one is ${this.#gs.state}`);
    }
    Object.assign(this.#gs.labels, request.labels ?? {});
    Object.assign(this.#gs.annotations, request.annotations ?? {});
    for (const [name, action] of Object.entries(request.lists ?? {})) {
      const list = this.#gs.lists?.[name];
      if (!list) throw new MpaUsageError(`the GameServer has no list ${name} (declare it in spec.lists; CountsAndLists must be on)`);
      if (action.capacity !== undefined) list.capacity = checkCapacity(action.capacity, ['lists', name, 'capacity']);
      for (const value of action.addValues ?? []) if (!list.values.includes(value) && list.values.length < list.capacity) list.values.push(value);
    }
    this.#stopReserve();
    this.#gs.annotations[LAST_ALLOCATED_ANNOTATION] = new Date(this.#now()).toISOString();
    this.#gs.state = 'Allocated';
    this.#changed();
  }

  // ---- labels and annotations ------------------------------------------------------------

  /** SDK SetLabel: the key is checked as Kubernetes does, and stored with Agones' prefix. */
  sdkSetLabel(key: string, value: string): void {
    const keyProblem = qualifiedNameProblem(key);
    if (keyProblem) throw new SdkCallError('INVALID_ARGUMENT', `invalid label key ${JSON.stringify(key)}: ${keyProblem}`);
    const valueProblem = labelValueProblem(value);
    if (valueProblem) throw new SdkCallError('INVALID_ARGUMENT', `invalid label value ${JSON.stringify(value)} for key ${JSON.stringify(key)}: ${valueProblem}`);
    this.#gs.labels[SDK_METADATA_PREFIX + key] = value;
    this.#changed();
  }

  /** SDK SetAnnotation: the key is checked as Kubernetes does, and stored with Agones' prefix. */
  sdkSetAnnotation(key: string, value: string): void {
    const keyProblem = qualifiedNameProblem(key);
    if (keyProblem) throw new SdkCallError('INVALID_ARGUMENT', `invalid annotation key ${JSON.stringify(key)}: ${keyProblem}`);
    this.#gs.annotations[SDK_METADATA_PREFIX + key] = value;
    this.#changed();
  }

  /** Outside (kubectl, the allocator): sets or (with `undefined`) removes a label, no prefix. */
  setMetadata(kind: 'labels' | 'annotations', key: string, value: string | undefined): void {
    if (value === undefined) delete this.#gs[kind][key];
    else this.#gs[kind][key] = value;
    this.#changed();
  }

  // ---- Counters and Lists (beta) ---------------------------------------------------------

  #lists(): Record<string, { capacity: number; values: string[] }> {
    if (!this.#gates.CountsAndLists || !this.#gs.lists) throw unknown('CountsAndLists not enabled');
    return this.#gs.lists;
  }

  #counters(): Record<string, { count: number; capacity: number }> {
    if (!this.#gates.CountsAndLists || !this.#gs.counters) throw unknown('CountsAndLists not enabled');
    return this.#gs.counters;
  }

  getList(name: string): { name: string; capacity: number; values: string[] } {
    const list = this.#lists()[name];
    if (!list) throw unknown(`list not found: ${name}`);
    return { name, capacity: list.capacity, values: [...list.values] };
  }

  addListValue(name: string, value: string): { name: string; capacity: number; values: string[] } {
    const list = this.#lists()[name];
    if (!list) throw unknown(`list not found: ${name}`);
    if (list.capacity <= list.values.length) throw unknown(`out of range. No available capacity. Current Capacity: ${list.capacity}, List Size: ${list.values.length}`);
    if (list.values.includes(value)) throw unknown(`already exists. Value: ${value} already in List: ${name}`);
    list.values.push(value);
    this.#changed();
    return this.getList(name);
  }

  removeListValue(name: string, value: string): { name: string; capacity: number; values: string[] } {
    const list = this.#lists()[name];
    if (!list) throw unknown(`list not found: ${name}`);
    const at = list.values.indexOf(value);
    if (at < 0) throw unknown(`not found: value ${value} not in list ${name}`);
    list.values.splice(at, 1);
    this.#changed();
    return this.getList(name);
  }

  /**
   * SDK UpdateList: only the fields named in the update mask change, as in a cluster. The Node
   * client's `setListCapacity` sends an empty mask, so there it changes nothing.
   */
  updateList(name: string, capacity: number, values: readonly string[], paths: readonly string[]): { name: string; capacity: number; values: string[] } {
    const lists = this.#lists();
    const invalid = paths.filter((p) => p !== 'name' && p !== 'capacity' && p !== 'values');
    if (invalid.length) throw unknown(`invalid argument. Field Mask Path(s): [${invalid.join(' ')}] are invalid for List. Use valid field name(s): name, capacity, values`);
    if (capacity < 0 || capacity > LIST_MAX_CAPACITY) throw unknown(`out of range. Capacity must be within range [0,${LIST_MAX_CAPACITY}]. Found Capacity: ${capacity}`);
    const list = lists[name];
    if (!list) throw unknown(`not found. ${name} List not found`);
    if (paths.includes('capacity')) list.capacity = capacity;
    if (paths.includes('values')) list.values = [...new Set(values)];
    if (list.values.length > list.capacity) list.values = list.values.slice(0, list.capacity);
    if (paths.includes('capacity') || paths.includes('values')) this.#changed();
    return { name: '', capacity: 0, values: [] }; // the SDK server answers an empty List
  }

  /** Outside: a List's capacity, as a GameServer spec or an allocation sets it. */
  setListCapacity(name: string, capacity: number): void {
    const list = this.#lists()[name];
    if (!list) throw new MpaUsageError(`the GameServer has no list ${name}`);
    list.capacity = checkCapacity(capacity, ['capacity']);
    if (list.values.length > list.capacity) list.values = list.values.slice(0, list.capacity);
    this.#changed();
  }

  getCounter(name: string): { name: string; count: number; capacity: number } {
    const counter = this.#counters()[name];
    if (!counter) throw unknown(`counter not found: ${name}`);
    return { name, ...counter };
  }

  updateCounter(name: string, update: { count?: number | undefined; capacity?: number | undefined; countDiff: number }): { name: string; count: number; capacity: number } {
    const counter = this.#counters()[name];
    if (!counter) throw unknown(`counter not found: ${name}`);
    let { count, capacity } = counter;
    if (update.capacity !== undefined) {
      if (update.capacity < 0) throw unknown(`out of range. Capacity must be greater than or equal to 0. Found Capacity: ${update.capacity}`);
      capacity = update.capacity;
    }
    if (update.count !== undefined) count = update.count;
    count += update.countDiff;
    if (count < 0 || count > capacity) throw unknown(`out of range. Count must be within range [0,Capacity]. Found Count: ${count}, Capacity: ${capacity}`);
    counter.count = count;
    counter.capacity = capacity;
    this.#changed();
    return { name, count, capacity };
  }

  // ---- player tracking (alpha) -----------------------------------------------------------

  #players(): { count: number; capacity: number; ids: string[] } {
    if (!this.#gates.PlayerTracking || !this.#gs.players) throw unknown('PlayerTracking not enabled');
    return this.#gs.players;
  }

  playerConnect(id: string): boolean {
    const players = this.#players();
    if (players.ids.includes(id)) return false;
    if (players.ids.length >= players.capacity) throw unknown('players are already at capacity');
    players.ids.push(id);
    players.count = players.ids.length;
    this.#changed();
    return true;
  }

  playerDisconnect(id: string): boolean {
    const players = this.#players();
    const at = players.ids.indexOf(id);
    if (at < 0) return false;
    players.ids.splice(at, 1);
    players.count = players.ids.length;
    this.#changed();
    return true;
  }

  setPlayerCapacity(capacity: number): void {
    this.#players().capacity = capacity;
    this.#changed();
  }

  playerCapacity(): number {
    return this.#players().capacity;
  }

  playerCount(): number {
    return this.#players().count;
  }

  isPlayerConnected(id: string): boolean {
    return this.#players().ids.includes(id);
  }

  connectedPlayers(): string[] {
    return [...this.#players().ids];
  }

  dispose(): void {
    this.#stopReserve();
    this.#listeners.clear();
  }
}

function checkCapacity(capacity: number, path: (string | number)[]): number {
  if (!Number.isInteger(capacity) || capacity < 0 || capacity > LIST_MAX_CAPACITY) {
    throw new MpaValidationError('local GameServer', [{ path, message: `a List's capacity must be an integer from 0 to ${LIST_MAX_CAPACITY}` }]);
  }
  return capacity;
}

function buildGameServer(init: LocalGameServerInit, gates: Required<FeatureGates>, now: () => number): LocalGameServer {
  const state = init.state ?? 'Ready';
  if (!STATES.includes(state)) throw new MpaValidationError('local GameServer', [{ path: ['state'], message: `must be one of ${STATES.join(', ')}` }]);
  const lists = Object.fromEntries(
    Object.entries(init.lists ?? { players: { capacity: 100 } }).map(([name, l]) => {
      const capacity = checkCapacity(l.capacity ?? LIST_MAX_CAPACITY, ['lists', name, 'capacity']);
      return [name, { capacity, values: [...new Set(l.values ?? [])].slice(0, capacity) }];
    }),
  );
  const counters = Object.fromEntries(Object.entries(init.counters ?? { rooms: { count: 1, capacity: 10 } }).map(([name, c]) => [name, { count: c.count ?? 0, capacity: c.capacity ?? 1000 }]));
  const ids = [...new Set(init.players?.ids ?? [])];
  return {
    name: init.name ?? 'local',
    namespace: init.namespace ?? 'default',
    uid: init.uid ?? '1234',
    resourceVersion: '1',
    generation: 1,
    creationTimestamp: Math.floor(now() / 1000),
    deletionTimestamp: 0,
    labels: { ...(init.labels ?? { islocal: 'true' }) },
    annotations: { ...(init.annotations ?? { annotation: 'true' }) },
    health: { disabled: false, periodSeconds: 3, failureThreshold: 5, initialDelaySeconds: 10 },
    state,
    address: init.address ?? '127.0.0.1',
    addresses: [],
    ports: (init.ports ?? [{ name: 'default', port: 7777 }]).map((p) => ({ name: p.name, port: p.port })),
    players: gates.PlayerTracking ? { count: ids.length, capacity: init.players?.capacity ?? 0, ids } : undefined,
    counters: gates.CountsAndLists ? counters : undefined,
    lists: gates.CountsAndLists ? lists : undefined,
  };
}
