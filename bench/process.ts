/**
 * The process benchmark: what the engine costs in CPU and memory, measured through the public
 * API only, beside its reference measured in the same run: the CPU Node's own `fetch` spends
 * sending the engine's PUT to a bare loopback server. Each function runs in a child process of
 * its own (bench/worker.ts).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ActivitySync, MpaClient, type MatchGroup } from '../src/index.js';

const gc = (globalThis as { gc?: () => void }).gc;
function heap(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

const cpuMicros = (since?: NodeJS.CpuUsage) => {
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

/**
 * A transport that answers 204 on the next turn of the event loop, as an answer from the
 * network arrives: the engine's own timers (close()'s timeout) run in between.
 */
function nextTurnTransport(): { fetch: typeof fetch; requests: () => number } {
  let requests = 0;
  return {
    fetch: () => {
      requests++;
      return new Promise((resolve) => setImmediate(() => resolve(new Response(null, { status: 204 }))));
    },
    requests: () => requests,
  };
}

function clientOn(transport: typeof fetch): MpaClient {
  return new MpaClient({ titleId: 1, baseUrl: 'http://127.0.0.1:9', authorization: () => 'XBL3.0 x=1;bench', fetch: transport });
}

/**
 * `players` join matches of 8 in `sync` (one join per matchmaker event, each changing every
 * member's count), until `flush()`; their xuids and match ids start after `first` (so that a
 * second batch in the same engine meets nobody from the first).
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

/** The engine the CPU figures measure: defaults, but count pacing off, so every change may become a request. */
const engineOptions = { countRefreshIntervalMs: 0 } as const;

/**
 * Players who join and leave, untimed, before the engine's CPU is measured, in the very engine
 * then measured: V8 compiles and optimizes the code on the way, which a server running for
 * months pays once. Warmed up in an engine of its own, then closed, the optimized code went
 * with that engine once it was collected, and the measured run compiled it again.
 */
export const WARM_UP_PLAYERS = 30_000;

export interface EngineCost {
  players: number;
  requests: number;
  cpuMicrosPerRequest: number;
}

/**
 * CPU per request of ActivitySync with its real MpaClient on a transport that answers at once:
 * `players` join matches of 8 until `flush()`, in an engine that {@link WARM_UP_PLAYERS}
 * players joined and left first. Process CPU (user + system) from the first join, divided by
 * the requests that reached the transport.
 */
export async function engineCost(players: number): Promise<EngineCost> {
  const transport = instantTransport();
  const sync = new ActivitySync({ client: clientOn(transport.fetch), ...engineOptions });
  // One match at a time, as matches end on a server: the warm-up is not what is measured.
  for (const match of await joinInMatches(sync, WARM_UP_PLAYERS)) await match.close();
  const sentBefore = transport.requests();
  const cpu0 = process.cpuUsage();
  await joinInMatches(sync, players, WARM_UP_PLAYERS);
  const cpu = cpuMicros(cpu0);
  const requests = transport.requests() - sentBefore;
  return { players, requests, cpuMicrosPerRequest: cpu / requests };
}

/** PUTs sent with `fetch` before the reference is measured, untimed (V8 compiling undici). */
export const FETCH_WARM_UP = 5_000;
/** PUTs measured for the reference. */
export const FETCH_PUTS = 10_000;

export interface FetchCost {
  puts: number;
  /** Requests in flight at once: the engine's default `concurrency`. */
  inFlight: number;
  bodyBytes: number;
  headers: string[];
  cpuMicrosPerPut: number;
}

/** The PUT the engine sends for a player in a full match of 8, as its MpaClient hands it to `fetch`. */
async function enginePut(): Promise<{ path: string; init: RequestInit }> {
  let last: { path: string; init: RequestInit } | undefined;
  const capture: typeof fetch = async (url, init) => {
    if (init?.method === 'PUT') last = { path: new URL(String(url)).pathname, init: { method: 'PUT', headers: init.headers, body: init.body } };
    return new Response(null, { status: 204 });
  };
  const sync = new ActivitySync({ client: clientOn(capture), ...engineOptions });
  await joinInMatches(sync, 8, WARM_UP_PLAYERS);
  await sync.close();
  if (!last) throw new Error('the engine sent no PUT');
  return last;
}

/**
 * The reference for CPU per request: what Node's own `fetch` spends sending the engine's PUT
 * (the same path, headers and body, captured from the engine) to a bare node:http server on
 * loopback that answers 204 (bench/bare-server.ts, in a process of its own, so only this
 * client's CPU is counted), {@link FETCH_PUTS} of them after {@link FETCH_WARM_UP} untimed, as
 * many in flight as the engine's default concurrency. The answer is handled as the engine's
 * client handles it: its body read only when there is one.
 */
export async function fetchCost(): Promise<FetchCost> {
  const { path, init } = await enginePut();
  const server = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./bare-server.ts', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<string>((resolve, reject) => {
      createInterface({ input: server.stdout! }).once('line', resolve);
      server.once('exit', (code) => reject(new Error(`the bare server exited with ${code}`)));
    });
    const url = `http://127.0.0.1:${port}${path}`;
    const inFlight = 16;
    const send = async (count: number) => {
      let sent = 0;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (sent < count) {
            sent++;
            const response = await fetch(url, init);
            if (response.status !== 204) throw new Error(`the bare server answered ${response.status}`);
            if (response.body !== null) await response.text();
          }
        }),
      );
    };
    await send(FETCH_WARM_UP);
    const cpu0 = process.cpuUsage();
    await send(FETCH_PUTS);
    const cpu = cpuMicros(cpu0);
    return { puts: FETCH_PUTS, inFlight, bodyBytes: (init.body as Uint8Array).byteLength, headers: Object.keys(init.headers as Record<string, string>), cpuMicrosPerPut: cpu / FETCH_PUTS };
  } finally {
    server.kill();
  }
}

export interface HeapCost {
  players: number;
  requests: number;
  /** The heap of the new engine (the start). */
  heapStartBytes: number;
  /** Heap after `flush()` (every player active) over the heap of the new engine, per player. */
  heapBytesPerPlayer: number;
  /** Heap after `close()` (the engine still referenced) minus the heap of the new engine. */
  heapAfterCloseBytes: number;
  /** How long `close()` took, and the activities it reported as possibly left on the service. */
  closeMs: number;
  undeleted: number;
  /** What the closed engine still keeps per player (`stats().retained`), read after the heap. */
  retainedAfterClose: { players: number; sequences: number; budgets: number };
}

/**
 * The engine with its defaults, on a transport that answers on the next turn of the event
 * loop: `players` join matches of 8 until `flush()` (heap per resting player), then `close()`
 * with its default timeout, the engine still referenced as a server holds it (heap against the
 * start). Heaps after a full GC; the start is the new engine's.
 */
export async function heapCost(players: number): Promise<HeapCost> {
  const transport = nextTurnTransport();
  const sync = new ActivitySync({ client: clientOn(transport.fetch) });
  const start = heap();
  await joinInMatches(sync, players);
  const heapBytesPerPlayer = (heap() - start) / players;
  const closing = performance.now();
  const { undeleted } = await sync.close();
  const closeMs = performance.now() - closing;
  // Answers to requests cut short by close() arrive on the next turns.
  for (let i = 0; i < 3; i++) await yieldToIo();
  const heapAfterCloseBytes = heap() - start;
  // Read after the heap: the closed engine stays referenced until then, as a server keeps it.
  const retainedAfterClose = sync.stats().retained;
  return { players, requests: transport.requests(), heapStartBytes: start, heapBytesPerPlayer, heapAfterCloseBytes, closeMs, undeleted: undeleted.length, retainedAfterClose };
}
