import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { MpaClient } from '../src/client.js';
import { TITLE, TOKEN } from './helpers.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

it('`mpa-sync emulator` serves the four seed calls and the query call', { timeout: 20_000 }, async () => {
  const child = spawn(process.execPath, [cli, 'emulator', '--port', '0', '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        const found = /listening on (http:\/\/\S+)/.exec(chunk.toString());
        if (found) resolve(found[1]!);
      });
      child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const client = new MpaClient({ titleId: TITLE, baseUrl: url, authorization: () => TOKEN });
    await client.setActivity('2533274800000001', { connectionString: 'c', joinRestriction: 'Public', sequenceNumber: 1 });
    expect(await client.getActivity('2533274800000001')).toMatchObject({ connectionString: 'c' });
    expect(await client.queryActivities(['2533274800000001', '2533274800000002'])).toMatchObject([{ activities: [{ connectionString: 'c' }] }, { activities: [] }]);
    await client.sendServerInvite({ sender: '2533274800000001', invitedUsers: ['2533274800000002'] });
    await client.deleteActivity('2533274800000001', { sequenceNumber: 2 });
    expect(await client.getActivity('2533274800000001')).toBeNull();
  } finally {
    child.kill('SIGTERM');
  }
});

it('refuses bad flags with a usage message', async () => {
  const child = spawn(process.execPath, [cli, 'emulator', '--port', '99999'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code).toBe(2);
  expect(err).toMatch(/--port must be 0\.\.65535/);
});

it('refuses a bad limit flag, naming the option', async () => {
  const child = spawn(process.execPath, [cli, 'emulator', '--port', '0', '--max-body-bytes', 'lots'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code).toBe(2);
  expect(err).toMatch(/maxBodyBytes: must be an integer/);
});

it('`mpa-sync emulator --max-body-bytes` caps bodies and /_emulator/health reports the process memory', { timeout: 20_000 }, async () => {
  const child = spawn(process.execPath, [cli, 'emulator', '--port', '0', '--max-body-bytes', '100', '--log-size', '5'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        const found = /listening on (http:\/\/\S+)/.exec(chunk.toString());
        if (found) resolve(found[1]!);
      });
      child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
    });
    const res = await fetch(`${url}/titles/${TITLE}/users/2533274800000001/activities`, { method: 'PUT', headers: { authorization: TOKEN }, body: 'x'.repeat(101) });
    expect(res.status).toBe(413);
    const health = (await (await fetch(`${url}/_emulator/health`)).json()) as { requests: number; memory: { heapUsed: number } };
    expect(health).toMatchObject({ requests: 1, memory: { heapUsed: expect.any(Number) } });
  } finally {
    child.kill('SIGTERM');
  }
});
