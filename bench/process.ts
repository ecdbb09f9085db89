/**
 * The process benchmark: what the engine costs in CPU and memory, measured through the public
 * API only, beside floors measured the same way in the same run: a minimal XState machine doing
 * a request's idle -> sending -> active cycle, a bare XState actor per player, a Map entry per
 * player. Each function runs in a child process of its own (bench/worker.ts).
 */
import { install } from '@sinonjs/fake-timers';
import { createActor, fromPromise, setup } from 'xstate';
import { ActivitySync, MpaClient, type MatchGroup } from '../src/index.js';

const gc = (globalThis as { gc?: () => void }).gc;
function heap(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

const cpuMicros = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return used.user + used.system;
};
const xuid = (n: number) => String(2533274800000000n + BigInt(n));
const yieldToIo = () => new Promise((resolve) => setImmediate(resolve));

/** A transport that answers 204 at once, counting the requests that reach it. */
function instantTransport(): { fetch: typeof fetch; requests: () => number } {
  let requests = 0;
  return {
    fetch: async () => {
      requests++;
      return new Response(null, { status: 204 });
    },
    requests: () => requests,
  };
}

function clientOn(transport: typeof fetch): MpaClient {
  return new MpaClient({ titleId: 1, baseUrl: 'http://127.0.0.1:9', authorization: () => 'XBL3.0 x=1;bench', fetch: transport });
}

export interface EngineCost {
  players: number;
  requests: number;
  cpuMicrosPerRequest: number;
  heapBytesPerPlayer: number;
  bareActorBytesPerPlayer: number;
  mapBytesPerPlayer: number;
}

/**
 * Players warmed up on before each CPU figure (engine and floor alike), untimed: V8 compiles
 * the code the measured run then uses. Without it the 10,000-player figures mostly measured
 * compilation, which a server running for months pays once, and more of it for the engine,
 * which has far more code than the floor's three-state machine. The engine warms up in the
 * very engine then measured, as a server's one engine does: warmed up in an engine of its own,
 * then closed, the code V8 had optimized went with it (`--trace-deopt`: "weak objects", once
 * the closed engine's objects were collected), and the measured run paid for compiling it
 * again. And 10,000 players were not enough for V8 to finish: measured at 10,000 players after
 * it, the engine's CPU per request ran 33 to 46 µs; after 30,000, 22 to 28 µs.
 */
export const WARM_UP_PLAYERS = 30_000;

/** A new engine on a transport that answers at once, and the count of requests that reached it. */
function newEngine(): { sync: ActivitySync; requests: () => number } {
  const transport = instantTransport();
  return { sync: new ActivitySync({ client: clientOn(transport.fetch), concurrency: 64, countRefreshIntervalMs: 0 }), requests: transport.requests };
}

/**
 * `players` join matches of 8 in `sync`, until `flush()`; their xuids and match ids start
 * after `first` (so that a second batch in the same engine meets nobody from the first).
 */
async function joinInMatches(sync: ActivitySync, players: number, first = 0): Promise<MatchGroup[]> {
  const matches: MatchGroup[] = [];
  for (let m = 0; m < players / 8; m++) {
    const id = first / 8 + m;
    const match = sync.group({ groupId: `m${id}`, connectionString: `10.0.${id % 256}.${(id >> 8) % 256}:7777`, maxPlayers: 8 });
    for (let p = 0; p < 8; p++) match.join(xuid(first + m * 8 + p));
    matches.push(match);
    if (m % 64 === 0) await yieldToIo();
  }
  await sync.flush();
  return matches;
}

/**
 * `players` join matches of 8 (one join per matchmaker event, each changing every member's
 * count), count pacing off so every change may become a request, until `flush()`, in an
 * engine that {@link WARM_UP_PLAYERS} players joined and left first. CPU per request that
 * reached the transport; heap per resting player after a full GC, then the bare actor and Map
 * floors for as many players.
 */
export async function engineCost(players: number): Promise<EngineCost> {
  const { sync, requests: requestsOf } = newEngine();
  const warmUp = await joinInMatches(sync, WARM_UP_PLAYERS);
  await Promise.all(warmUp.map((match) => match.close()));
  const before = heap();
  const sentBefore = requestsOf();
  const cpu0 = process.cpuUsage();
  await joinInMatches(sync, players, WARM_UP_PLAYERS);
  const cpu = cpuMicros(cpu0);
  const heapBytesPerPlayer = (heap() - before) / players;
  const requests = requestsOf() - sentBefore;
  return {
    players,
    requests,
    cpuMicrosPerRequest: cpu / requests,
    heapBytesPerPlayer,
    bareActorBytesPerPlayer: bareActors(players),
    mapBytesPerPlayer: plainMap(players),
  };
}

export interface CycleCost {
  players: number;
  /** `entry`: the sending state starts the call and the answer comes back as an event; `child`: a `fromPromise` actor makes the call. */
  variant: 'entry' | 'child';
  cycles: number;
  cpuMicrosPerCycle: number;
}

/**
 * The floor for CPU per request: `players` actors of a minimal machine (idle -> sending ->
 * active), each doing two cycles (idle -> sending -> active, then active -> sending -> active),
 * each cycle one call of the same instant transport. Variant `entry` (the floor): entering
 * `sending` starts the call and its answer comes back as an event. Variant `child`: the call
 * is a `fromPromise` actor invoked by `sending`, to show what a child per request costs. Only
 * the cycles are timed; creating the actors is not.
 */
export async function xstateCycle(players: number, variant: 'entry' | 'child'): Promise<CycleCost> {
  const transport = instantTransport();
  const call = () => transport.fetch('http://127.0.0.1:9/', { method: 'PUT' });
  let done = 0;
  let target = 0;
  let wake: () => void = () => undefined;
  const count = () => {
    if (++done === target) wake();
  };
  const byEntry = setup({
    types: { events: {} as { type: 'SEND' } | { type: 'DONE' } },
    actions: { call: ({ self }) => void call().then(() => self.send({ type: 'DONE' })), count },
  }).createMachine({
    initial: 'idle',
    states: {
      idle: { on: { SEND: 'sending' } },
      sending: { entry: 'call', on: { DONE: 'active' } },
      active: { entry: 'count', on: { SEND: 'sending' } },
    },
  });
  const byChild = setup({
    actors: { send: fromPromise(async () => void (await call())) },
    actions: { count },
  }).createMachine({
    initial: 'idle',
    states: {
      idle: { on: { SEND: 'sending' } },
      sending: { invoke: { src: 'send', onDone: 'active', onError: 'active' } },
      active: { entry: 'count', on: { SEND: 'sending' } },
    },
  });
  const machine = variant === 'entry' ? byEntry : byChild;
  // Two cycles per actor (idle -> sending -> active, then active -> sending -> active); the
  // actors are created before and stopped after, untimed.
  const cycleTwice = async (count: number): Promise<number> => {
    const actors = Array.from({ length: count }, () => createActor(machine).start());
    done = 0;
    const cpu0 = process.cpuUsage();
    for (let round = 1; round <= 2; round++) {
      target = round * count;
      const all = new Promise<void>((resolve) => (wake = resolve));
      // Like the engine run: yield to I/O now and then while sending.
      for (let i = 0; i < count; i++) {
        actors[i]!.send({ type: 'SEND' });
        if (i % 512 === 0) await yieldToIo();
      }
      await all;
    }
    const cpu = cpuMicros(cpu0);
    for (const a of actors) a.stop();
    return cpu;
  };
  await cycleTwice(WARM_UP_PLAYERS); // the same warm-up as the engine's
  const cpu = await cycleTwice(players);
  return { players, variant, cycles: 2 * players, cpuMicrosPerCycle: cpu / (2 * players) };
}

function bareActors(players: number): number {
  const machine = setup({}).createMachine({ initial: 'idle', context: { pending: null }, states: { idle: { on: { GO: 'active' } }, active: {} } });
  const before = heap();
  const actors = Array.from({ length: players }, () => createActor(machine).start());
  const bytes = (heap() - before) / players;
  for (const a of actors) a.stop();
  return bytes;
}

function plainMap(players: number): number {
  const before = heap();
  const map = new Map<string, { group: string; seq: bigint; state: string }>();
  for (let i = 0; i < players; i++) map.set(xuid(i), { group: `m${i >> 3}`, seq: BigInt(i), state: 'active' });
  const bytes = (heap() - before) / players;
  map.clear();
  return bytes;
}

export interface ChurnHeap {
  players: number;
  requests: number;
  heapGrowthBytes: number;
}

/**
 * Heap left behind after `players` join and leave, on simulated time with the engine's
 * defaults (documented budgets, 15 s count pacing): a match of 8 opens every 50 ms, its
 * players join at once, leave together 60 s later and the match closes. Then 10 minutes pass
 * (every budget window is over) and the heap is compared with the one taken after the engine
 * was built and warmed up by one such match.
 */
export async function churnHeap(players: number): Promise<ChurnHeap> {
  const clock = install({ now: Date.parse('2026-01-01T00:00:00Z'), toNotFake: ['nextTick', 'queueMicrotask'] });
  try {
    const transport = instantTransport();
    const sync = new ActivitySync({ client: clientOn(transport.fetch) });
    // One clock drives everything (two tickAsync at once would interleave): a match waits on a
    // faked setTimeout that the loop below advances.
    const play = async (m: number) => {
      const match = sync.group({ groupId: `m${m}`, connectionString: `10.0.${m % 256}.${m >> 8}:7777`, maxPlayers: 8 });
      for (let p = 0; p < 8; p++) match.join(xuid(m * 8 + p));
      await new Promise((resolve) => setTimeout(resolve, 60_000));
      await match.close();
    };
    const warmUp = play(players);
    await clock.tickAsync(600_000);
    await warmUp;
    const before = heap();
    const matches = players / 8;
    const running: Promise<void>[] = [];
    for (let m = 0; m < matches; m++) {
      running.push(play(m));
      await clock.tickAsync(50);
    }
    await clock.tickAsync(600_000);
    await Promise.all(running);
    await sync.flush();
    const heapGrowthBytes = heap() - before;
    return { players, requests: transport.requests(), heapGrowthBytes };
  } finally {
    clock.uninstall();
  }
}

export interface WaitCost {
  players: number;
  how: 'flush' | 'synced';
  cpuMs: number;
  wallMs: number;
}

/**
 * What it costs to learn that `players` simultaneous joins are on the service: `flush()`, or
 * counting `synced` events up to the same number. One player per match, so each join is
 * exactly one desired state and one `synced` event in both runs. CPU and wall time from the
 * first join until the wait resolves.
 */
export async function waitCost(players: number, how: 'flush' | 'synced'): Promise<WaitCost> {
  const transport = instantTransport();
  const sync = new ActivitySync({ client: clientOn(transport.fetch), concurrency: 64 });
  let synced = 0;
  let reached: () => void = () => undefined;
  const allSynced = new Promise<void>((resolve) => (reached = resolve));
  if (how === 'synced') {
    sync.on('synced', () => {
      if (++synced === players) reached();
    });
  }
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let i = 0; i < players; i++) sync.group({ groupId: `solo${i}`, connectionString: `10.1.${i % 256}.${i >> 8}:7777`, maxPlayers: 8 }).join(xuid(i));
  await (how === 'flush' ? sync.flush() : allSynced);
  return { players, how, cpuMs: cpuMicros(cpu0) / 1000, wallMs: performance.now() - wall0 };
}
