/**
 * Engine micro-benchmark: CPU per request and heap per player of ActivitySync against a client
 * that answers at once (the engine's own cost, not the network's), beside the floors the issue
 * names: a minimal XState machine's idle -> sending -> active cycle, a bare actor, a Map entry.
 *
 *   node --expose-gc --import tsx bench/engine-micro.ts [players...]
 */
import { createClock } from '@sinonjs/fake-timers';
import { assign, createActor, setup } from 'xstate';
import { ActivitySync, type MpaClient } from '../src/index.js';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const xuid = (i: number) => String(2533274800000000n + BigInt(i));

const minimal = setup({ types: { context: {} as { n: number }, events: {} as { type: 'SEND' } | { type: 'DONE' } } }).createMachine({
  context: { n: 0 },
  initial: 'idle',
  states: {
    idle: { on: { SEND: 'sending' } },
    sending: { on: { DONE: { target: 'active', actions: assign({ n: ({ context }) => context.n + 1 }) } } },
    active: { on: { SEND: 'sending' } },
  },
});

async function floors(n: number) {
  const before = heap();
  const start = cpuMs();
  const actors = [];
  for (let i = 0; i < n; i++) {
    const a = createActor(minimal).start();
    a.send({ type: 'SEND' });
    a.send({ type: 'DONE' });
    actors.push(a);
  }
  const cycleUs = ((cpuMs() - start) * 1000) / n;
  const actorBytes = (heap() - before) / n;
  const mapBefore = heap();
  const map = new Map<string, { n: number }>();
  for (let i = 0; i < n; i++) map.set(xuid(i), { n: 1 });
  const mapBytes = (heap() - mapBefore) / n;
  for (const a of actors) a.stop();
  return { cycleUs, actorBytes, mapBytes, keep: map.size };
}

function instantClient(): MpaClient {
  const ok = async () => undefined;
  return { setActivity: ok, deleteActivity: ok, getActivity: async () => null, sendServerInvite: ok, reportRecentPlayerGroups: ok } as unknown as MpaClient;
}

/** CPU per request on the real timers (a fake clock's own bookkeeping would dominate). */
async function cpuRun(n: number) {
  let requests = 0;
  const sync = new ActivitySync({ client: instantClient(), concurrency: 64 });
  sync.on('request', () => void requests++);
  const groups = Array.from({ length: Math.ceil(n / 8) }, (_, g) => sync.group({ groupId: `g${g}`, connectionString: `host:${g}`, maxPlayers: 8 }));
  const start = cpuMs();
  for (let i = 0; i < n; i++) groups[Math.floor(i / 8)]!.join(xuid(i));
  await sync.flush();
  for (let i = 0; i < n; i++) groups[Math.floor(i / 8)]!.leave(xuid(i));
  await sync.flush();
  const cpu = cpuMs() - start;
  await sync.close({ timeoutMs: 1000 });
  return (cpu * 1000) / requests;
}

/** Heap per player, and heap after churn once the budget windows have passed (fake clock). */
async function engine(n: number) {
  let requests = 0;
  // The engine's own fake clock: pacing and budget windows pass in no real time.
  const clock = createClock(Date.parse('2026-01-01T00:00:00Z'));
  const sync = new ActivitySync({ client: instantClient(), concurrency: 64, clock });
  const until = async (promise: Promise<unknown>) => {
    let done = false;
    void promise.then(() => (done = true));
    while (!done) await clock.tickAsync(1000);
  };
  sync.on('request', () => void requests++);
  const groups = Array.from({ length: Math.ceil(n / 8) }, (_, g) => sync.group({ groupId: `g${g}`, connectionString: `host:${g}`, maxPlayers: 8 }));
  const before = heap();
  const start = cpuMs();
  for (let i = 0; i < n; i++) groups[Math.floor(i / 8)]!.join(xuid(i));
  await until(sync.flush());
  const cpu = cpuMs() - start;
  const joined = requests;
  await clock.tickAsync(20_000); // resting players release their actors
  const perPlayer = (heap() - before) / n;
  // Churn: everyone leaves; the same number of new players join and leave in one window.
  const churnStart = cpuMs();
  for (let i = 0; i < n; i++) groups[Math.floor(i / 8)]!.leave(xuid(i));
  for (let i = 0; i < n; i++) groups[Math.floor(i / 8)]!.join(xuid(n + i));
  await until(sync.flush());
  for (let i = 0; i < n; i++) groups[Math.floor(i / 8)]!.leave(xuid(n + i));
  await until(sync.flush());
  const churnCpu = cpuMs() - churnStart;
  const churnRequests = requests - joined;
  // After the budget windows have passed, one more request sweeps what expired.
  await clock.tickAsync(302_000);
  groups[0]!.join(xuid(3 * n));
  await until(sync.flush());
  const afterChurn = heap();
  const stats = sync.stats();
  await until(sync.close({ timeoutMs: 1000 }));
  return { usPerRequest: (cpu * 1000) / joined, requests: joined, bytesPerPlayer: perPlayer, churnUsPerRequest: (churnCpu * 1000) / churnRequests, heapAfterChurnMB: (afterChurn - before) / 1e6, retained: stats.retained };
}

const sizes = process.argv.slice(2).map(Number).filter((v) => v > 0);
for (const n of sizes.length ? sizes : [10_000, 100_000]) {
  const f = await floors(n);
  const e = await engine(n);
  const us = await cpuRun(n);
  console.log(
    JSON.stringify({
      players: n,
      minimalCycleUs: +f.cycleUs.toFixed(1),
      engineUsPerRequest: +us.toFixed(1),
      ratio: +(us / f.cycleUs).toFixed(2),
      bareActorBytes: Math.round(f.actorBytes),
      mapEntryBytes: Math.round(f.mapBytes),
      engineBytesPerPlayer: Math.round(e.bytesPerPlayer),
      heapAfterChurnMB: +e.heapAfterChurnMB.toFixed(1),
      retainedAfterChurn: e.retained,
    }),
  );
}
