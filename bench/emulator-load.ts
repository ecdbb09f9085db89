/**
 * The emulator under load, every party in a process of its own: the emulator (the built CLI,
 * `dist/cli.js`, which is what `npx mpa-sync emulator` runs), a bare node:http server answering
 * 204 (the ceiling), and autocannon in a third process (bench/load-client.ts). Then a soak:
 * 200,000 requests against the CLI, its heap read before and after from `/_emulator/health`.
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
// The ceilings: each emulator row is compared with the same HTTP work done by a bare node:http
// server, so that "% of bare" measures the emulator's own logic and nothing else. `GET /` answers
// 204 (head only); `GET /json` answers 200 with the very bytes and headers of the emulator's
// JSON GET (given in BARE_JSON); a PUT has its body read whole, then 204.
export const BARE = `const body = process.env.BARE_JSON ?? '{}';
const s = require('node:http').createServer((req, res) => {
  if (req.method === 'PUT') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => { Buffer.concat(chunks).toString('utf8'); res.writeHead(204); res.end(); });
  } else if (req.url === '/json') {
    res.writeHead(200, ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body))]);
    res.end(body);
  } else { res.writeHead(204); res.end(); }
});
s.listen(0, '127.0.0.1', () => console.log('listening on http://127.0.0.1:' + s.address().port));`;
const XUID_EMPTY = '2533274800000001';
const XUID_HELD = '2533274800000002';
/** The PUT body of every PUT target: a stale write after the first, validated in full. */
export const ACTIVITY = JSON.stringify({ connectionString: '203.0.113.7:7777', joinRestriction: 'Public', sequenceNumber: '1', currentPlayers: 3, maxPlayers: 8, groupId: 'm1' });

export interface LoadResult {
  target: string;
  requestsPerSecond: number;
  p99LatencyMs: number;
  /**
   * Requests per second as a share of its own ceiling's (the same HTTP work on bare node:http),
   * in percent: the median over runs of each back-to-back pair's ratio (100 for a ceiling).
   */
  percentOfBare: number;
  /** The lowest and highest pair ratio, in percent: how much the machine moved the figure. */
  percentOfBareRange: [number, number];
  /** The ceiling this target is compared with (itself, for a ceiling). */
  ceiling: string;
  /** CPU time (user + system) the server process spent per request, in µs; null off Linux. */
  serverCpuMicrosPerRequest: number | null;
  non2xx: number;
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
 * Where each party runs. On Linux with two CPUs or more, the servers are pinned to CPU 0 and
 * the load client to CPU 1 (taskset), as load tests are run: a server sharing its CPU with the
 * client that loads it (the scheduler does this now and then when left free) measures the
 * client as much as the server. Elsewhere nobody is pinned.
 */
const PINNED = process.platform === 'linux' && availableParallelism() >= 2 && existsSync('/usr/bin/taskset');
const onCpu = (cpu: number, args: string[]): [string, string[]] => (PINNED ? ['/usr/bin/taskset', ['-c', String(cpu), process.execPath, ...args]] : [process.execPath, args]);

/** Whether {@link runEmulatorLoad} pins the servers and the load client to CPUs of their own. */
export const LOAD_PINNED = PINNED;

async function startServer(args: string[], env?: Record<string, string>): Promise<Server> {
  const [command, argv] = onCpu(0, args);
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
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

/**
 * CPU time a process has used, in µs, from /proc (Linux). Steadier than requests per second on
 * a shared machine: a neighbour can slow the server down, but not make it work more per request.
 */
function cpuMicros(pid: number | undefined): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // utime + stime, in 1/100 s
  } catch {
    return null;
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Section 3's default: this many back-to-back pairs per emulator target... */
export const LOAD_RUNS = 11;
/** ...of this many seconds per measurement (3 pairs of targets: 132 s in all)... */
export const LOAD_SECONDS = 2;
/** ...after a warm-up of this many seconds per target, not counted (JIT, sockets, caches). */
export const LOAD_WARM_UP_SECONDS = 1;

/**
 * Throughput: each emulator target and its ceiling measured back to back `runs` times for
 * `durationS` each; the share is the median of the pairs' ratios, the other figures medians.
 */
export async function runEmulatorLoad(runs = LOAD_RUNS, durationS = LOAD_SECONDS): Promise<LoadResult[]> {
  // Rate limits off (one user would be throttled at once); stale writes ignored, so the same
  // PUT can be repeated: it is still parsed and validated in full, then answered 204.
  const emulator = await startServer([CLI, 'emulator', '--port', '0', '--no-rate-limits', '--stale-sequence', 'ignore']);
  let bare: Server | undefined;
  const load = loadClient();
  try {
    const held = `${emulator.url}/titles/1234567890/users/${XUID_HELD}/activities`;
    await fetch(held, { method: 'PUT', headers: { authorization: 'XBL3.0 x=1;bench' }, body: ACTIVITY });
    // The JSON ceiling answers exactly what the emulator answers for the held activity.
    const heldJson = await (await fetch(held, { headers: { authorization: 'XBL3.0 x=1;bench' } })).text();
    bare = await startServer(['-e', BARE], { BARE_JSON: heldJson });
    const BARE_204 = 'bare node:http: GET, 204 (ceiling)';
    const BARE_JSON = 'bare node:http: GET, 200 same JSON bytes and headers (ceiling)';
    const BARE_PUT = 'bare node:http: PUT, body read, 204 (ceiling)';
    // [name, [url, method, body?], its ceiling]
    const targets: [string, string[], string][] = [
      ['emulator: GET activity, none held (204)', [`${emulator.url}/titles/1234567890/users/${XUID_EMPTY}/activities`, 'GET'], BARE_204],
      ['emulator: GET activity, held (200 JSON)', [held, 'GET'], BARE_JSON],
      ['emulator: PUT activity (204, stale write fully validated)', [held, 'PUT', ACTIVITY], BARE_PUT],
      [BARE_204, [`${bare.url}/`, 'GET'], BARE_204],
      [BARE_JSON, [`${bare.url}/json`, 'GET'], BARE_JSON],
      [BARE_PUT, [`${bare.url}/`, 'PUT', ACTIVITY], BARE_PUT],
    ];
    const samples = new Map<string, (FixedLoad & { cpuPerRequest: number | null })[]>(targets.map(([name]) => [name, []]));
    /** Per emulator target, its throughput over its ceiling's in each back-to-back pair. */
    const ratios = new Map<string, number[]>();
    const measure = async (name: string, url: string, method: string, body: string | undefined) => {
      const pid = (name.startsWith('bare') ? bare : emulator)!.process.pid;
      const cpuBefore = cpuMicros(pid);
      const measured = await load.measure({ url, method, seconds: durationS, body });
      const cpuAfter = cpuMicros(pid);
      samples.get(name)!.push({ ...measured, cpuPerRequest: cpuBefore === null || cpuAfter === null ? null : (cpuAfter - cpuBefore) / measured.requests });
      return measured.requestsPerSecond;
    };
    // Every target warms up first, the ceilings too: a first measurement would otherwise
    // count V8 compiling the handlers, which no long-running server pays.
    for (const [, [url, method, body]] of targets) await load.measure({ url: url!, method: method!, seconds: LOAD_WARM_UP_SECONDS, body });
    // Each emulator target is measured right beside its ceiling, in pairs, the order swapped
    // every run, and judged by the median of the pairs' ratios: this shared machine's speed
    // drifts by a third over minutes, and two figures taken seconds apart see the same speed.
    const byName = new Map(targets.map(([name, request]) => [name, request]));
    for (let i = 0; i < runs; i++) {
      for (const [name, , ceiling] of targets) {
        if (name === ceiling) continue;
        const order = i % 2 === 0 ? [name, ceiling] : [ceiling, name];
        const rps = new Map<string, number>();
        for (const which of order) {
          const [url, method, body] = byName.get(which)!;
          rps.set(which, await measure(which, url!, method!, body));
        }
        if (!ratios.has(name)) ratios.set(name, []);
        ratios.get(name)!.push(rps.get(name)! / rps.get(ceiling)!);
      }
    }
    const rpsOf = (name: string) => median(samples.get(name)!.map((s) => s.requestsPerSecond));
    return targets.map(([name, , ceiling]) => {
      const runsOf = samples.get(name)!;
      const shares = (ratios.get(name) ?? [1]).map((r) => 100 * r);
      const cpu = runsOf.every((s) => s.cpuPerRequest !== null) ? median(runsOf.map((s) => s.cpuPerRequest!)) : null;
      return {
        target: name,
        requestsPerSecond: rpsOf(name),
        p99LatencyMs: median(runsOf.map((s) => s.p99LatencyMs)),
        percentOfBare: median(shares),
        percentOfBareRange: [Math.min(...shares), Math.max(...shares)] as [number, number],
        ceiling,
        serverCpuMicrosPerRequest: cpu,
        non2xx: runsOf.reduce((n, s) => n + s.non2xx, 0),
      };
    });
  } finally {
    await load.close();
    await stopServer(emulator);
    if (bare) await stopServer(bare);
  }
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
