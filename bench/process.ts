/**
 * The process benchmark: what the engine costs in CPU and memory, with a transport that
 * answers at once, beside a bare XState actor per player and a plain Map per player.
 */
import { createActor, setup } from 'xstate';
import { ActivitySync, MpaClient } from '../src/index.js';

export interface ProcessResult {
  players: number;
  eventsPerSecond: number;
  cpuMicrosPerEvent: number;
  heapBytesPerPlayer: number;
  bareActorBytesPerPlayer: number;
  mapBytesPerPlayer: number;
}

const gc = (globalThis as { gc?: () => void }).gc;
function heap(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

const instant: typeof fetch = async () => new Response(null, { status: 204 });
const xuid = (n: number) => String(2533274800000000n + BigInt(n));

export async function runProcess(players: number): Promise<ProcessResult> {
  const client = new MpaClient({ titleId: 1, baseUrl: 'http://127.0.0.1:9', authorization: () => 'XBL3.0 x=1;bench', fetch: instant });
  // No count pacing: every change is sent, so the figure is the engine's full cost per event.
  const sync = new ActivitySync({ client, concurrency: 64, countRefreshIntervalMs: 0 });
  const before = heap();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  // Matches of 8: each join is one matchmaker event and changes every member's count.
  let events = 0;
  for (let m = 0; m < players / 8; m++) {
    const match = sync.group({ groupId: `m${m}`, connectionString: `10.0.${m % 256}.${m >> 8}:7777`, maxPlayers: 8 });
    for (let p = 0; p < 8; p++) {
      match.join(xuid(m * 8 + p));
      events++;
    }
    if (m % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await sync.flush();
  const cpu = process.cpuUsage(cpu0);
  const wallS = (performance.now() - wall0) / 1000;
  const heapBytesPerPlayer = (heap() - before) / players;
  return {
    players,
    eventsPerSecond: events / wallS,
    cpuMicrosPerEvent: (cpu.user + cpu.system) / events,
    heapBytesPerPlayer,
    bareActorBytesPerPlayer: bareActors(players),
    mapBytesPerPlayer: plainMap(players),
  };
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
