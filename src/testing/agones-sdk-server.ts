/**
 * A local Agones SDK server: the sidecar's gRPC services (stable, beta and alpha) on loopback,
 * built from the service definitions `@google-cloud/agones-sdk` itself ships, so the real
 * Node client talks to it exactly as it talks to the sidecar in a pod. It behaves as Agones'
 * local mode (`sdk-server --local`) does, with the cluster's error forms (see docs/agones.md for
 * what it does not emulate).
 */
import { createRequire } from 'node:module';
import { MpaUsageError, MpaValidationError } from '../errors.js';
import { knownKeysOnly } from '../schemas.js';
import { encodeGameServer } from './agones-wire.js';
import { GameServerModel, SdkCallError, type FeatureGates, type GameServerState, type LocalAllocation, type LocalGameServer, type LocalGameServerInit, type ModelTimers } from './agones-model.js';

/** Options of {@link startLocalAgonesSdk}. */
export interface LocalAgonesSdkOptions {
  /** Loopback address to listen on. Default `127.0.0.1`; anything but a loopback address is refused. */
  host?: string;
  /** Port. Default 0 (any free port; read it from `port`). */
  port?: number;
  /** The GameServer it starts with. */
  gameServer?: LocalGameServerInit;
  /** Feature gates. Default: `PlayerTracking` off, `CountsAndLists` on (Agones 1.61's defaults). */
  featureGates?: FeatureGates;
  /** Wall clock (Unix ms) for timestamps (`agones.dev/last-allocated`). Default `Date.now`. */
  now?: () => number;
  /** Timers for `Reserve(seconds)`'s return to Ready: `{ setTimeout, clearTimeout }` or a fake-timers clock. Default: the global timers. */
  clock?: ModelTimers;
}

/** A running local Agones SDK server. See {@link startLocalAgonesSdk}. */
export interface LocalAgonesSdk {
  /** The port it listens on: set `AGONES_SDK_GRPC_PORT` to it before `new AgonesSDK()`. */
  readonly port: number;
  /** `host:port`. */
  readonly address: string;
  /** The GameServer now (a copy). */
  gameServer(): LocalGameServer;
  /** Every SDK call received, by gRPC method name (`Ready`, `WatchGameServer`, `AddListValue`...), in order. */
  readonly calls: readonly string[];
  /** Health pings received. */
  readonly healthPings: number;
  /** WatchGameServer streams open now. */
  readonly watchers: number;
  /**
   * What the allocator does from outside the pod: sets labels and annotations, applies list
   * actions (appending players, say), sets `agones.dev/last-allocated` and the state
   * `Allocated`. The GameServer must be Ready (or Allocated, for a re-allocation).
   */
  allocate(request?: LocalAllocation): LocalGameServer;
  /** The controller's side: any state (`Unhealthy` after missed health pings, say). Nothing leaves Shutdown or Unhealthy. */
  setState(state: GameServerState): LocalGameServer;
  /** Sets (or, with `undefined`, removes) a label from outside the pod: no `agones.dev/sdk-` prefix. */
  setLabel(key: string, value: string | undefined): LocalGameServer;
  /** Sets (or, with `undefined`, removes) an annotation from outside the pod. */
  setAnnotation(key: string, value: string | undefined): LocalGameServer;
  /** Appends a value to a List (as an allocation's list action does); the SDK's errors apply. */
  appendListValue(list: string, value: string): LocalGameServer;
  /** Removes a value from a List; the SDK's errors apply. */
  deleteListValue(list: string, value: string): LocalGameServer;
  /** Sets a List's capacity (what the GameServer spec or an allocation does; the Node client's `setListCapacity` cannot). */
  setListCapacity(list: string, capacity: number): LocalGameServer;
  /** Marks the GameServer as being deleted (`deletionTimestamp`), as when its pod is terminated. */
  markDeleted(): LocalGameServer;
  /**
   * The sidecar becomes unreachable: every connection and stream is cut and nothing listens
   * on the port until {@link resume}. The GameServer is kept (it lives in Kubernetes).
   */
  interrupt(): Promise<void>;
  /** Listens again on the same port after {@link interrupt}. */
  resume(): Promise<void>;
  /** Stops the server; open streams are cut. */
  close(): Promise<void>;
}

// ---- the parts of @grpc/grpc-js and the generated code this file uses ----------------------

interface GrpcError {
  code: number;
  details: string;
  message: string;
}
type UnaryCallback = (error: GrpcError | null, value?: unknown) => void;
interface UnaryCall {
  request: any;
}
interface WritableCall {
  write(message: unknown): boolean;
  end(): void;
  on(event: 'cancelled' | 'close' | 'error', listener: () => void): unknown;
  cancelled?: boolean;
}
interface ReadableCall {
  on(event: 'data' | 'end' | 'error', listener: (...args: unknown[]) => void): unknown;
}
interface GrpcServer {
  addService(service: unknown, implementation: Record<string, (...args: any[]) => void>): void;
  bindAsync(address: string, credentials: unknown, callback: (error: Error | null, port: number) => void): void;
  forceShutdown(): void;
}
interface GrpcModule {
  Server: new (options?: Record<string, unknown>) => GrpcServer;
  ServerCredentials: { createInsecure(): unknown };
  status: Record<string, number>;
}
type ServiceDefinition = Record<string, { responseSerialize: (value: any) => Buffer }>;

interface AgonesModules {
  grpc: GrpcModule;
  sdkService: ServiceDefinition;
  betaService: ServiceDefinition;
  alphaService: ServiceDefinition;
  sdk: Record<string, new () => any>;
  beta: Record<string, new () => any>;
  alpha: Record<string, new () => any>;
}

/**
 * Loads the service definitions and message classes the npm client ships, and the gRPC library
 * it uses (resolved from the client's own folder, so both sides run the same one). Loaded at
 * call time: `mpa-sync/testing` works without @google-cloud/agones-sdk until this is used.
 */
function loadAgones(): AgonesModules {
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve('@google-cloud/agones-sdk');
  } catch {
    throw new MpaUsageError('startLocalAgonesSdk needs @google-cloud/agones-sdk: npm install --save-dev @google-cloud/agones-sdk');
  }
  const fromSdk = createRequire(entry);
  const lib = (path: string) => fromSdk(`../lib/${path}`);
  return {
    grpc: fromSdk('@grpc/grpc-js'),
    sdkService: lib('sdk_grpc_pb.js')['agones.dev.sdk.SDK'],
    betaService: lib('beta/beta_grpc_pb.js')['agones.dev.sdk.beta.SDK'],
    alphaService: lib('alpha/alpha_grpc_pb.js')['agones.dev.sdk.alpha.SDK'],
    sdk: lib('sdk_pb.js'),
    beta: lib('beta/beta_pb.js'),
    alpha: lib('alpha/alpha_pb.js'),
  };
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/;
const OPTION_KEYS = ['host', 'port', 'gameServer', 'featureGates', 'now', 'clock'] as const satisfies readonly (keyof LocalAgonesSdkOptions)[];

/**
 * Starts a local Agones SDK server on loopback, for testing a game server without a cluster:
 * the real `@google-cloud/agones-sdk` client connects to it (set `AGONES_SDK_GRPC_PORT` to its
 * `port` before constructing the client). Needs `@google-cloud/agones-sdk` installed.
 *
 * @example
 * const agones = await startLocalAgonesSdk({ gameServer: { state: 'Scheduled', lists: { players: { capacity: 8 } } } });
 * process.env.AGONES_SDK_GRPC_PORT = String(agones.port);
 * const sdk = new AgonesSDK();
 * await sdk.ready();
 * agones.allocate({ lists: { players: { addValues: ['2533274800000001'] } } });
 * await agones.close();
 */
export async function startLocalAgonesSdk(options: LocalAgonesSdkOptions = {}): Promise<LocalAgonesSdk> {
  knownKeysOnly('local Agones SDK options', options, OPTION_KEYS);
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || !LOOPBACK.test(host)) throw new MpaValidationError('local Agones SDK options', [{ path: ['host'], message: 'must be a loopback address (127.0.0.1, ::1 or localhost)' }]);
  const wanted = options.port ?? 0;
  if (!Number.isInteger(wanted) || wanted < 0 || wanted > 65_535) throw new MpaValidationError('local Agones SDK options', [{ path: ['port'], message: 'must be an integer from 0 to 65535' }]);
  const modules = loadAgones();
  const { grpc } = modules;
  const timers: ModelTimers = options.clock ?? { setTimeout: (f, ms) => setTimeout(f, ms).unref(), clearTimeout: (h) => clearTimeout(h) };
  const model = new GameServerModel(options.gameServer ?? {}, options.featureGates ?? {}, options.now ?? Date.now, timers);
  const calls: string[] = [];
  const watchers = new Set<WritableCall>();
  let healthPings = 0;

  model.onChange(() => {
    const gs = model.snapshot();
    for (const call of watchers) call.write(gs);
  });

  const fail = (callback: UnaryCallback, error: unknown) => {
    if (error instanceof SdkCallError) callback({ code: grpc.status[error.code]!, details: error.message, message: error.message });
    else callback({ code: grpc.status.INTERNAL!, details: String(error), message: String(error) });
  };
  /** A unary method: records the call, runs `body`, answers with what it returns (or its error). */
  const unary =
    (name: string, body: (request: any) => unknown) =>
    (call: UnaryCall, callback: UnaryCallback) => {
      calls.push(name);
      try {
        callback(null, body(call.request));
      } catch (error) {
        fail(callback, error);
      }
    };
  const msg = (classes: Record<string, new () => any>, name: string, fill: (m: any) => void = () => undefined) => {
    const m = new classes[name]!();
    fill(m);
    return m;
  };
  const sdkEmpty = () => msg(modules.sdk, 'Empty');
  const betaList = (l: { name: string; capacity: number; values: string[] }) => msg(modules.beta, 'List', (m) => m.setName(l.name).setCapacity(l.capacity).setValuesList(l.values));
  const betaCounter = (c: { name: string; count: number; capacity: number }) => msg(modules.beta, 'Counter', (m) => m.setName(c.name).setCount(c.count).setCapacity(c.capacity));
  const bool = (value: boolean) => msg(modules.alpha, 'Bool', (m) => m.setBool(value));
  const count = (value: number) => msg(modules.alpha, 'Count', (m) => m.setCount(value));

  // GameServer answers are written by our own encoder (google-protobuf 4 cannot write its maps).
  const writeGameServer = (gs: LocalGameServer) => Buffer.from(encodeGameServer(gs));
  const sdkService = {
    ...modules.sdkService,
    getGameServer: { ...modules.sdkService.getGameServer!, responseSerialize: writeGameServer },
    watchGameServer: { ...modules.sdkService.watchGameServer!, responseSerialize: writeGameServer },
  };

  const stable = {
    ready: unary('Ready', () => (model.ready(), sdkEmpty())),
    allocate: unary('Allocate', () => (model.allocate(), sdkEmpty())),
    shutdown: unary('Shutdown', () => (model.shutdown(), sdkEmpty())),
    reserve: unary('Reserve', (r) => (model.reserve(r.getSeconds()), sdkEmpty())),
    setLabel: unary('SetLabel', (r) => (model.sdkSetLabel(r.getKey(), r.getValue()), sdkEmpty())),
    setAnnotation: unary('SetAnnotation', (r) => (model.sdkSetAnnotation(r.getKey(), r.getValue()), sdkEmpty())),
    getGameServer: unary('GetGameServer', () => model.snapshot()),
    health(call: ReadableCall, callback: UnaryCallback) {
      calls.push('Health');
      call.on('data', () => void healthPings++);
      call.on('end', () => callback(null, sdkEmpty()));
      call.on('error', () => undefined);
    },
    watchGameServer(call: WritableCall) {
      calls.push('WatchGameServer');
      // The current GameServer first, then every change (as the SDK server does).
      watchers.add(call);
      const forget = () => void watchers.delete(call);
      call.on('cancelled', forget);
      call.on('close', forget);
      call.on('error', forget);
      call.write(model.snapshot());
    },
  };
  const betaImpl = {
    getList: unary('GetList', (r) => betaList(model.getList(r.getName()))),
    addListValue: unary('AddListValue', (r) => betaList(model.addListValue(r.getName(), r.getValue()))),
    removeListValue: unary('RemoveListValue', (r) => betaList(model.removeListValue(r.getName(), r.getValue()))),
    updateList: unary('UpdateList', (r) => {
      const list = r.getList();
      const paths: string[] = r.getUpdateMask()?.getPathsList() ?? [];
      if (!list || !r.getUpdateMask()) throw new SdkCallError('UNKNOWN', `invalid argument. List: ${list ? 'set' : '<nil>'} and UpdateMask ${r.getUpdateMask() ? 'set' : '<nil>'} cannot be nil`);
      return betaList(model.updateList(list.getName(), list.getCapacity(), list.getValuesList(), paths));
    }),
    getCounter: unary('GetCounter', (r) => betaCounter(model.getCounter(r.getName()))),
    updateCounter: unary('UpdateCounter', (r) => {
      const u = r.getCounterupdaterequest();
      if (!u) throw new SdkCallError('UNKNOWN', 'invalid argument. CounterUpdateRequest: <nil> cannot be nil');
      return betaCounter(model.updateCounter(u.getName(), { count: u.getCount()?.getValue(), capacity: u.getCapacity()?.getValue(), countDiff: u.getCountdiff() }));
    }),
  };
  const alphaImpl = {
    playerConnect: unary('PlayerConnect', (r) => bool(model.playerConnect(r.getPlayerid()))),
    playerDisconnect: unary('PlayerDisconnect', (r) => bool(model.playerDisconnect(r.getPlayerid()))),
    setPlayerCapacity: unary('SetPlayerCapacity', (r) => (model.setPlayerCapacity(r.getCount()), msg(modules.alpha, 'Empty'))),
    getPlayerCapacity: unary('GetPlayerCapacity', () => count(model.playerCapacity())),
    getPlayerCount: unary('GetPlayerCount', () => count(model.playerCount())),
    isPlayerConnected: unary('IsPlayerConnected', (r) => bool(model.isPlayerConnected(r.getPlayerid()))),
    getConnectedPlayers: unary('GetConnectedPlayers', () => msg(modules.alpha, 'PlayerIDList', (m) => m.setListList(model.connectedPlayers()))),
  };

  let server: GrpcServer | undefined;
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const s = new grpc.Server();
      s.addService(sdkService, stable);
      s.addService(modules.betaService, betaImpl);
      s.addService(modules.alphaService, alphaImpl);
      const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
      s.bindAsync(where, grpc.ServerCredentials.createInsecure(), (error, bound) => {
        if (error) return reject(error);
        server = s;
        resolve(bound);
      });
    });
  const cut = () => {
    server?.forceShutdown();
    server = undefined;
    watchers.clear();
  };

  const port = await listen(wanted);
  // Outside the pod, a refusal is the caller's mistake in the test: an MpaError, not a gRPC answer.
  const after = (change: () => void) => {
    try {
      change();
    } catch (error) {
      throw error instanceof SdkCallError ? new MpaUsageError(`local Agones SDK: ${error.message}`) : error;
    }
    return model.snapshot();
  };
  let closed = false;
  return {
    port,
    address: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
    gameServer: () => model.snapshot(),
    calls,
    get healthPings() {
      return healthPings;
    },
    get watchers() {
      return watchers.size;
    },
    allocate: (request = {}) => after(() => model.allocateFromOutside(request)),
    setState: (state) => after(() => model.setState(state)),
    setLabel: (key, value) => after(() => model.setMetadata('labels', key, value)),
    setAnnotation: (key, value) => after(() => model.setMetadata('annotations', key, value)),
    appendListValue: (list, value) => after(() => model.addListValue(list, value)),
    deleteListValue: (list, value) => after(() => model.removeListValue(list, value)),
    setListCapacity: (list, capacity) => after(() => model.setListCapacity(list, capacity)),
    markDeleted: () => after(() => model.markDeleted()),
    async interrupt() {
      cut();
    },
    async resume() {
      if (closed) throw new MpaUsageError('the local Agones SDK server is closed');
      if (!server) await listen(port);
    },
    async close() {
      closed = true;
      cut();
      model.dispose();
    },
  };
}
