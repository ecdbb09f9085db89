/**
 * Instructions per PUT on the server's main thread, counted by valgrind's callgrind: the same
 * figure every run, whatever the machine's neighbours are doing, unlike requests per second.
 * Each server (the bare node:http ceiling and the emulator CLI) runs under callgrind; 20,000
 * PUTs warm it up uncounted (V8 compiles the handlers), then 5,000 are counted. Only the main
 * thread is read: V8 compiles and collects garbage on threads of its own, which callgrind
 * slows down far more than the JavaScript they serve. No kernel time: callgrind sees user space
 * only, so the loopback send, the same for both, is left out. Without valgrind, `undefined`.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const WARM_UP = 20_000;
/** PUTs counted per server. */
export const COUNTED_PUTS = 5000;
const PATH = '/titles/1234567890/users/2533274800000002/activities';
const HEADERS = { authorization: 'XBL3.0 x=1;bench', 'content-type': 'application/json' };

export interface InstructionCount {
  /** Named as in the load rows (bench/emulator-load.ts), so that the two can be set side by side. */
  server: string;
  instructionsPerPut: number;
}

/** `amount` PUTs of `body` over 8 keep-alive connections, one at a time on each. */
async function puts(url: string, body: string, amount: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  let left = amount;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const sent = request(`${url}${PATH}`, { method: 'PUT', agent, headers: { ...HEADERS, 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      sent.on('error', reject);
      sent.end(body);
    });
  try {
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (left-- > 0) await one();
    }));
  } finally {
    agent.destroy();
  }
}

async function countOne(server: string, args: string[], body: string): Promise<InstructionCount> {
  const dir = mkdtempSync(join(tmpdir(), 'mpa-sync-callgrind-'));
  const child = spawn('valgrind', ['--tool=callgrind', '--instr-atstart=no', '--separate-threads=yes', '--smc-check=all-non-file', `--callgrind-out-file=${join(dir, 'cg.%p')}`, process.execPath, ...args], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        const found = /listening on (http:\/\/\S+)/.exec(chunk.toString());
        if (found) resolve(found[1]!);
      });
      child.once('exit', (code) => reject(new Error(`${server} exited with ${code} under valgrind`)));
    });
    const pid = String(child.pid);
    await puts(url, body, WARM_UP);
    await run('callgrind_control', ['-i', 'on', pid]);
    await puts(url, body, COUNTED_PUTS);
    await run('callgrind_control', ['-i', 'off', pid]);
    await run('callgrind_control', ['-d', pid]);
    child.kill('SIGKILL');
    await exited;
    // The dump asked for above is part 1; thread 1 is the main thread.
    const main = readdirSync(dir).find((name) => name.endsWith('.1-01'));
    const totals = main ? /^totals: (\d+)$/m.exec(readFileSync(join(dir, main), 'utf8')) : null;
    if (!totals) throw new Error(`no callgrind count for ${server}`);
    return { server, instructionsPerPut: Number(totals[1]) / COUNTED_PUTS };
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Whether valgrind (with callgrind_control) is installed. */
export const CAN_COUNT_INSTRUCTIONS = ['/usr/bin/valgrind', '/usr/bin/callgrind_control'].every((file) => existsSync(file));

/**
 * The bare server (`bareScript`, a `node -e` program that prints "listening on <url>") and the
 * emulator CLI (`cli`), each counted alone, one after the other, both answering `body`.
 */
export async function countPutInstructions(bareScript: string, cli: string, body: string): Promise<InstructionCount[] | undefined> {
  if (!CAN_COUNT_INSTRUCTIONS) return undefined;
  return [
    await countOne('bare node:http: PUT, body read, 204 (ceiling)', ['-e', bareScript], body),
    await countOne('emulator: PUT activity (204, stale write fully validated)', [cli, 'emulator', '--port', '0', '--no-rate-limits', '--stale-sequence', 'ignore'], body),
  ];
}
