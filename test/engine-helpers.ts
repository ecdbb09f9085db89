import type { Clock } from '@sinonjs/fake-timers';
import { MpaClient } from '../src/client.js';
import { ActivitySync, type ActivitySyncOptions } from '../src/engine/activity-sync.js';
import type { RequestEvent } from '../src/engine/events.js';
import { startEmulator, type Emulator, type StartEmulatorOptions } from '../src/emulator/server.js';
import { seededRandom } from '../src/random.js';
import { fakeClock, TITLE, TOKEN } from './helpers.js';

export interface Rig {
  clock: Clock;
  emulator: Emulator;
  client: MpaClient;
  sync: ActivitySync;
  requests: RequestEvent[];
  /** Emulator log lines for one user's writes. */
  writesOf(xuid: string): { method: string; status: number; seq: bigint | undefined; time: number }[];
  dispose(): Promise<void>;
}

/**
 * An emulator and an engine on one fake clock. `transport: 'fetch'` (default) serves the
 * emulator in-process; `'http'` goes over real loopback sockets.
 */
export async function rig(
  options: { emulator?: StartEmulatorOptions; sync?: Partial<ActivitySyncOptions>; transport?: 'fetch' | 'http'; seed?: number } = {},
): Promise<Rig> {
  const clock = fakeClock();
  const emulator = await startEmulator({ port: 0, host: '127.0.0.1', ...options.emulator });
  const client = new MpaClient({
    titleId: TITLE,
    baseUrl: emulator.url,
    authorization: () => TOKEN,
    ...(options.transport !== 'http' && { fetch: emulator.fetch }),
  });
  const sync = new ActivitySync({ client, random: seededRandom(options.seed ?? 1), ...options.sync });
  const requests: RequestEvent[] = [];
  sync.on('request', (e) => requests.push(e));
  return {
    clock,
    emulator,
    client,
    sync,
    requests,
    writesOf: (xuid) =>
      emulator.core.log
        .filter((r) => r.xuid === xuid && (r.method === 'PUT' || r.method === 'DELETE'))
        .map((r) => ({ method: r.method, status: r.status, time: r.time, seq: seqOf(r.body) })),
    async dispose() {
      if (!sync.closed) await Promise.race([sync.close({ timeoutMs: 1 }), clock.tickAsync(10)]);
      clock.uninstall();
      await emulator.close();
    },
  };
}

function seqOf(body: unknown): bigint | undefined {
  const s = (body as { sequenceNumber?: unknown } | undefined)?.sequenceNumber;
  return typeof s === 'string' || typeof s === 'number' ? BigInt(s) : undefined;
}

/** Advances the fake clock until `promise` settles (or `maxMs` passes). */
export async function settle<T>(clock: Clock, promise: Promise<T>, maxMs = 3_600_000, stepMs = 1000): Promise<T> {
  let done = false;
  let value: T | undefined;
  let failure: unknown;
  promise.then(
    (v) => ((done = true), (value = v)),
    (e: unknown) => ((done = true), (failure = e)),
  );
  for (let t = 0; t < maxMs && !done; t += stepMs) await clock.tickAsync(stepMs);
  await clock.tickAsync(0);
  if (!done) throw new Error(`did not settle within ${maxMs} ms of fake time`);
  if (failure) throw failure;
  return value as T;
}

export const P = (n: number) => String(2533274800000000n + BigInt(n));

/**
 * Runs fake timers from one to the next until `promise` settles: fast, for in-process
 * transports only (real sockets need real time between timers).
 */
export async function drain<T>(clock: Clock, promise: Promise<T>, maxTimers = 100_000): Promise<T> {
  let done = false;
  const watched = promise.finally(() => (done = true));
  for (let i = 0; i < maxTimers && !done; i++) {
    await clock.tickAsync(0);
    if (done) break;
    if (clock.countTimers() === 0) break;
    await clock.nextAsync();
  }
  if (!done) throw new Error('did not settle: no timers left or too many');
  return watched;
}
