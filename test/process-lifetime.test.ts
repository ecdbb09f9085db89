import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../src/emulator/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const XUID = '2533274800000001';

// A game server's shutdown script, in a process of its own with nothing else to keep it alive:
// the engine's timers (Retry-After waits, backoff, timeouts) never hold a process open.
const script = (steps: string) => `
import { ActivitySync, MpaClient } from './src/index.ts';
const url = process.env.MPA_URL;
const client = new MpaClient({ titleId: 1234567890, baseUrl: url, authorization: () => 'XBL3.0 x=1;t' });
const sync = new ActivitySync({ client });
const match = sync.group({ groupId: 'm1', connectionString: 'c', maxPlayers: 8 });
match.join('${XUID}');
${steps}
`;

function run(code: string, url: string): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: root, env: { ...process.env, MPA_URL: url }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve) => child.once('exit', (exitCode) => resolve({ code: exitCode, out, err })));
}

let emulator: Emulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

it('an awaited close() keeps the process alive through a Retry-After, until the DELETE is sent', { timeout: 30_000 }, async () => {
  emulator = await startEmulator({ port: 0 });
  const { code, out, err } = await run(
    script(`
await sync.flush();
await fetch(url + '/_emulator/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: '429', retryAfterSeconds: 1 }) });
console.log(JSON.stringify(await sync.close({ timeoutMs: 10_000 })));
`),
    emulator.url,
  );
  expect(err).toBe('');
  expect(code).toBe(0);
  expect(JSON.parse(out)).toEqual({ undeleted: [] });
  expect(emulator.activity(XUID)).toBeUndefined();
  // The DELETE was throttled once, then sent after the Retry-After.
  expect(emulator.core.log.filter((r) => r.method === 'DELETE').map((r) => r.status)).toEqual([429, 204]);
});

it('an awaited flush({ timeoutMs }) resolves with the unsettled players when the service is unreachable', { timeout: 30_000 }, async () => {
  // A port that was just listening: connections to it are refused, and the engine backs off.
  const gone = await startEmulator({ port: 0 });
  const url = gone.url;
  await gone.close();
  const { code, out, err } = await run(script(`console.log(JSON.stringify(await sync.flush({ timeoutMs: 1500 })));`), url);
  expect(err).toBe('');
  expect(code).toBe(0);
  expect(JSON.parse(out)).toEqual({ unsettled: [{ xuid: XUID, groupId: 'm1', state: expect.any(String) }] });
});
