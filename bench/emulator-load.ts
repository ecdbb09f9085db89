/**
 * The emulator under load, every party in a process of its own: the emulator (the built CLI,
 * `dist/cli.js`, which is what `npx mpa-sync emulator` runs) and the load client
 * (bench/load-client.ts), which drives fully validated PUTs with autocannon, then with node's
 * own `fetch` as one test process would. Then a soak: 200,000 requests against the CLI, its
 * heap read before and after from `/_emulator/health`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FixedLoad, FixedRequest, SoakLoad } from './load-client.js';

const run = promisify(execFile);
/** The built CLI: what `npx mpa-sync emulator` runs. */
export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const LOAD_CLIENT = fileURLToPath(new URL('./load-client.ts', import.meta.url));
/** The PUT body of every measurement: a stale write after the first, validated in full. */
export const ACTIVITY = JSON.stringify({ connectionString: '203.0.113.7:7777', joinRestriction: 'Public', sequenceNumber: '1', currentPlayers: 3, maxPlayers: 8, groupId: 'm1' });

/** Who drives the PUTs, and how many at once. */
export const DRIVERS = [
  { name: 'autocannon, 32 connections', driver: 'autocannon', inFlight: 32 },
  { name: 'one client process using fetch, 16 in flight', driver: 'fetch', inFlight: 16 },
  { name: 'one client process using fetch, one at a time', driver: 'fetch', inFlight: 1 },
] as const satisfies readonly { name: string; driver: FixedRequest['driver']; inFlight: number }[];

/** The target: the emulator serves at least this many times what one fetch client (16 in flight) drives. */
export const TIMES_ONE_CLIENT_MIN = 5;

export interface LoadResult {
  /** One of {@link DRIVERS}' names. */
  driver: string;
  /** Median over the rounds. */
  requestsPerSecond: number;
  p99LatencyMs: number;
  /** The emulator process's CPU time (user + system) over the wall time, in percent; null off Linux. */
  emulatorBusyPercent: number | null;
  non2xx: number;
  errors: number;
}

export interface LoadResults {
  rows: LoadResult[];
  /** autocannon's rate over the fetch client's (16 in flight), the median of the rounds' ratios. */
  timesOneClient: number;
  /** The lowest and highest round's ratio. */
  timesOneClientRange: [number, number];
  rounds: number;
  seconds: number;
}

export interface SoakResult {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  byStatus: Record<string, number>;
  errors: number;
  /**
   * heapUsed after a full GC, in bytes: at start, after a warm-up that fills the request log,
   * halfway through the soak (by then the invite record is full too) and at its end.
   */
  heapStart: number;
  heapWarm: number;
  heapHalf: number;
  heapEnd: number;
  rssStart: number;
  rssEnd: number;
}

interface Server {
  url: string;
  process: ChildProcess;
}

/**
 * Where each party runs. On Linux with two CPUs or more, the emulator is pinned to CPU 0 and
 * the load client to CPU 1 (taskset), as load tests are run: an emulator sharing its CPU with
 * the client that loads it measures the client as much as the emulator. Elsewhere nobody is
 * pinned.
 */
const PINNED = process.platform === 'linux' && availableParallelism() >= 2 && existsSync('/usr/bin/taskset');
const onCpu = (cpu: number, args: string[]): [string, string[]] => (PINNED ? ['/usr/bin/taskset', ['-c', String(cpu), process.execPath, ...args]] : [process.execPath, args]);

async function startServer(args: string[]): Promise<Server> {
  const [command, argv] = onCpu(0, args);
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const found = /listening on (http:\/\/\S+)/.exec(chunk.toString());
      if (found) resolve(found[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { url, process: child };
}

async function stopServer(server: Server): Promise<void> {
  const exited = new Promise((resolve) => server.process.once('exit', resolve));
  server.process.kill('SIGTERM');
  await exited;
}

async function client<T>(...args: string[]): Promise<T> {
  const [command, argv] = onCpu(1, ['--import', 'tsx', LOAD_CLIENT, ...args]);
  const { stdout } = await run(command, argv, { maxBuffer: 1 << 24 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as T;
}

/** One load client kept running for a series of fixed-load measurements (`serve` mode). */
function loadClient(): { measure: (asked: FixedRequest) => Promise<FixedLoad>; close: () => Promise<void> } {
  const [command, argv] = onCpu(1, ['--import', 'tsx', LOAD_CLIENT, 'serve']);
  const child = spawn(command, argv, { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return {
    measure: async (asked) => {
      child.stdin!.write(`${JSON.stringify(asked)}\n`);
      const next = await lines.next();
      if (next.done) throw new Error('the load client exited');
      return JSON.parse(next.value) as FixedLoad;
    },
    close: async () => {
      child.stdin!.end();
      await exited;
    },
  };
}

/** CPU time a process has used, in µs, from /proc (Linux): how busy the emulator was. */
function cpuMicros(pid: number | undefined): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // utime + stime, in 1/100 s
  } catch {
    return null;
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** `npm run bench`'s default: this many rounds of every driver... */
export const LOAD_ROUNDS = 5;
/** ...of this many seconds each, after a warm-up of this many seconds per driver, not counted. */
export const LOAD_SECONDS = 3;
export const LOAD_WARM_UP_SECONDS = 1;

/**
 * Fully validated PUTs driven at the emulator by each of {@link DRIVERS}, `rounds` times for
 * `seconds` each, the drivers one after the other in every round (the order turned each round),
 * so that a machine whose speed drifts over minutes meets them all alike.
 */
export async function runEmulatorLoad(rounds = LOAD_ROUNDS, seconds = LOAD_SECONDS): Promise<LoadResults> {
  // Rate limits off (one user would be throttled at once); stale writes ignored, so the same
  // PUT can be repeated: it is still parsed and validated in full, then answered 204.
  const emulator = await startServer([CLI, 'emulator', '--port', '0', '--no-rate-limits', '--stale-sequence', 'ignore']);
  const load = loadClient();
  try {
    const url = `${emulator.url}/titles/1234567890/users/2533274800000002/activities`;
    const samples = new Map<string, (FixedLoad & { busy: number | null })[]>(DRIVERS.map((d) => [d.name, []]));
    const measure = async (d: (typeof DRIVERS)[number], time: number) => {
      const cpuBefore = cpuMicros(emulator.process.pid);
      const started = performance.now();
      const measured = await load.measure({ url, method: 'PUT', body: ACTIVITY, seconds: time, driver: d.driver, inFlight: d.inFlight });
      const wallMicros = (performance.now() - started) * 1000;
      const cpuAfter = cpuMicros(emulator.process.pid);
      return { ...measured, busy: cpuBefore === null || cpuAfter === null ? null : (100 * (cpuAfter - cpuBefore)) / wallMicros };
    };
    // V8 compiles the handlers during the first requests: no long-running emulator pays that.
    for (const d of DRIVERS) await measure(d, LOAD_WARM_UP_SECONDS);
    const ratios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const order = DRIVERS.map((_, i) => DRIVERS[(i + round) % DRIVERS.length]!);
      const rps = new Map<string, number>();
      for (const d of order) {
        const measured = await measure(d, seconds);
        samples.get(d.name)!.push(measured);
        rps.set(d.name, measured.requestsPerSecond);
      }
      ratios.push(rps.get(DRIVERS[0].name)! / rps.get(DRIVERS[1].name)!);
    }
    const rows = DRIVERS.map((d): LoadResult => {
      const runs = samples.get(d.name)!;
      return {
        driver: d.name,
        requestsPerSecond: median(runs.map((r) => r.requestsPerSecond)),
        p99LatencyMs: median(runs.map((r) => r.p99LatencyMs)),
        emulatorBusyPercent: runs.every((r) => r.busy !== null) ? median(runs.map((r) => r.busy!)) : null,
        non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
        errors: runs.reduce((n, r) => n + r.errors, 0),
      };
    });
    return { rows, timesOneClient: median(ratios), timesOneClientRange: [Math.min(...ratios), Math.max(...ratios)], rounds, seconds };
  } finally {
    await load.close();
    await stopServer(emulator);
  }
}

/** Whether the emulator met its target: at least {@link TIMES_ONE_CLIENT_MIN}x one fetch client. */
export const meetsTarget = (load: LoadResults) => load.timesOneClient >= TIMES_ONE_CLIENT_MIN;

/**
 * Section 3 of bench/RESULTS.md: how the load was driven, the table, and the verdict as
 * `judged` writes it (run.ts counts it among the targets).
 */
export function emulatorSection(load: LoadResults, judged: (text: string, ok: boolean) => string): string {
  const int = (n: number) => Math.round(n).toLocaleString('en-US');
  const rows = load.rows.map((r) => [r.driver, int(r.requestsPerSecond), r.p99LatencyMs.toFixed(1), r.emulatorBusyPercent === null ? 'n/a' : `${r.emulatorBusyPercent.toFixed(0)}%`, int(r.non2xx + r.errors)]);
  const table = [`| driver | PUTs/s (median) | p99 latency ms (median) | emulator CPU busy (median) | non-2xx or errors |`, '| --- | --- | --- | --- | --- |', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  const [cannon, client] = load.rows as [LoadResult, LoadResult, LoadResult];
  return `Two processes: the emulator (the built CLI, \`dist/cli.js emulator --no-rate-limits
--stale-sequence ignore\`, what \`npx mpa-sync emulator\` runs) and the load client, kept running
for the whole series. ${PINNED ? 'The emulator runs on CPU 0 and the load client on CPU 1 (taskset).' : 'Nothing is pinned to a CPU (no taskset here).'} The load client sends the same PUT
again and again (after the first, a stale write, still parsed and validated in full by the
emulator's zod schemas, answered 204 and changing nothing), driven first by autocannon, then by
node's own \`fetch\` as one test process sends requests: 16 in flight, then one at a time. Each
driver first gets ${LOAD_WARM_UP_SECONDS} s, not counted (V8 compiling); then ${load.rounds} rounds of ${load.seconds} s each, every
driver once a round, the order turned each round; every figure is the median of the rounds.
*Emulator CPU busy* is the emulator process's user + system time over the wall time, from /proc:
100% is one core. Target: the emulator serves at least ${TIMES_ONE_CLIENT_MIN}x the PUTs one client process using
\`fetch\` (16 in flight) can drive against it, so it is never the bottleneck of a test.

${table}

Validated PUTs under autocannon against one fetch client's: ${judged(`${load.timesOneClient.toFixed(1)}x (${int(cannon.requestsPerSecond)} against ${int(client.requestsPerSecond)} PUTs/s; rounds ${load.timesOneClientRange[0].toFixed(1)}x to ${load.timesOneClientRange[1].toFixed(1)}x; target ${TIMES_ONE_CLIENT_MIN}x)`, meetsTarget(load))}`;
}

interface Health {
  memory: { heapUsed: number; rss: number };
  requests: number;
}

async function health(url: string): Promise<Health> {
  return (await fetch(`${url}/_emulator/health?gc=1`)).json() as Promise<Health>;
}

/** The soak: `amount` requests over `users` players against the CLI with its default limits. */
export async function runEmulatorSoak(amount = 200_000, users = 2000): Promise<SoakResult> {
  // --expose-gc lets /_emulator/health?gc=1 collect before reading the heap: a steady figure.
  // Rate limits off: with them on, most of a soak this fast would be 429s, a shorter path.
  const emulator = await startServer(['--expose-gc', CLI, 'emulator', '--port', '0', '--no-rate-limits']);
  try {
    const start = await health(emulator.url);
    // Warm-up: fills the 10,000-entry log and gives every player an activity and a sequence.
    const warmUp = 20_000;
    await client<SoakLoad>('soak', emulator.url, String(warmUp), String(users), '', '0');
    const warm = await health(emulator.url);
    // Two halves, so that the heap is read in the middle too: flat means half == end.
    const half = Math.floor(amount / 2);
    const first = await client<SoakLoad>('soak', emulator.url, String(half), String(users), '', String(warmUp));
    const middle = await health(emulator.url);
    const second = await client<SoakLoad>('soak', emulator.url, String(amount - half), String(users), '', String(warmUp + half));
    const end = await health(emulator.url);
    const byStatus: Record<string, number> = { ...first.byStatus };
    for (const [status, count] of Object.entries(second.byStatus)) byStatus[status] = (byStatus[status] ?? 0) + count;
    const requests = first.requests + second.requests;
    const seconds = first.seconds + second.seconds;
    return {
      requests,
      seconds,
      requestsPerSecond: requests / seconds,
      byStatus,
      errors: first.errors + second.errors,
      heapStart: start.memory.heapUsed,
      heapWarm: warm.memory.heapUsed,
      heapHalf: middle.memory.heapUsed,
      heapEnd: end.memory.heapUsed,
      rssStart: start.memory.rss,
      rssEnd: end.memory.rss,
    };
  } finally {
    await stopServer(emulator);
  }
}
