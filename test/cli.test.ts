import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { MpaClient } from '../src/client.js';
import { TITLE, TOKEN } from './helpers.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/** Starts `mpa-sync <args>` and resolves once its output matches `ready` (the URL line by default). */
async function running(args: string[], ready = /listening on (http:\/\/\S+)\n/): Promise<{ child: ChildProcessByStdio<null, Readable, null>; url: string; out: string }> {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (ready.test(out)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`mpa-sync exited with ${code}`)));
  });
  return { child, url: /listening on (\S+)/.exec(out)![1]!, out };
}

/** Runs `mpa-sync <args>` to its end. */
async function ran(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, out, err };
}

it('`mpa-sync emulator` serves the four seed calls and the query call', { timeout: 20_000 }, async () => {
  const { child, url } = await running(['emulator', '--port', '0', '--host', '127.0.0.1']);
  try {
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
  const { code, err } = await ran(['emulator', '--port', '99999']);
  expect(code).toBe(2);
  expect(err).toMatch(/--port must be 0\.\.65535/);
});

it('`mpa-sync emulator --s2s` serves the token endpoints and writes the test certificate to files', { timeout: 20_000 }, async () => {
  const { readFileSync } = await import('node:fs');
  const path = await import('node:path');
  const { xboxServiceAuth } = await import('../src/auth/service-auth.js');
  const { child, url, out } = await running(['emulator', '--port', '0', '--s2s', '--sandbox', 'XDKS.1'], /ca\.pem in .+\n/);
  try {
    const dir = /ca\.pem in (.+)\n/.exec(out)![1]!;
    const file = (name: string) => readFileSync(path.join(dir, name), 'utf8');
    expect(out).not.toContain('PRIVATE KEY');
    const auth = xboxServiceAuth({
      cert: file('cert.pem'),
      key: file('key.pem'),
      ca: file('ca.pem'),
      sandboxId: 'XDKS.1',
      serviceAuthUrl: /service token (\S+)/.exec(out)![1]!,
      xstsUrl: /xsts (\S+)/.exec(out)![1]!,
    });
    const client = new MpaClient({ titleId: TITLE, baseUrl: url, authorization: auth });
    await client.setActivity('2533274800000001', { connectionString: 'c', joinRestriction: 'Public', sequenceNumber: 1 });
    expect(await client.getActivity('2533274800000001')).toMatchObject({ connectionString: 'c' });
  } finally {
    child.kill('SIGTERM');
  }
});

it('refuses a bad limit flag, naming the option', async () => {
  const { code, err } = await ran(['emulator', '--port', '0', '--max-body-bytes=-5']);
  expect(code).toBe(2);
  expect(err).toMatch(/maxBodyBytes: must be an integer/);
});

it('refuses a number flag that is not a decimal number (it used to become 0, or a port read as hex), before listening', async () => {
  for (const [flag, value] of [['--latency', 'abc'], ['--port', '0x10'], ['--port', ''], ['--max-body-bytes', 'lots']]) {
    const { code, err, out } = await ran(['emulator', '--port', '0', flag!, value!]);
    expect(code).toBe(2);
    expect(err).toContain(`${flag} must be a decimal number, got ${JSON.stringify(value)}`);
    expect(out).not.toMatch(/listening/);
  }
});

it('refuses --seed without --fault-rate, where it would be ignored', async () => {
  const { code, err } = await ran(['emulator', '--port', '0', '--seed', '7']);
  expect(code).toBe(2);
  expect(err).toMatch(/--seed needs --fault-rate/);
});

it('`mpa-sync emulator --max-body-bytes` caps bodies and /_emulator/health reports the process memory', { timeout: 20_000 }, async () => {
  const { child, url } = await running(['emulator', '--port', '0', '--max-body-bytes', '100', '--log-size', '5']);
  try {
    const res = await fetch(`${url}/titles/${TITLE}/users/2533274800000001/activities`, { method: 'PUT', headers: { authorization: TOKEN }, body: 'x'.repeat(101) });
    expect(res.status).toBe(413);
    const health = (await (await fetch(`${url}/_emulator/health`)).json()) as { requests: number; memory: { heapUsed: number } };
    expect(health).toMatchObject({ requests: 1, memory: { heapUsed: expect.any(Number) } });
  } finally {
    child.kill('SIGTERM');
  }
});

it('`mpa-sync --version` prints the package version', async () => {
  const { VERSION } = await import('../src/version.js');
  const { code, out } = await ran(['--version']);
  expect(code).toBe(0);
  expect(out).toBe(`${VERSION}\n`);
});

it.each([
  ['--sandbox without --s2s', ['emulator', '--port', '0', '--sandbox', 'XDKS.1'], /--sandbox needs --s2s/],
  ['--s2s-dir without --s2s', ['emulator', '--port', '0', '--s2s-dir', '/tmp/x'], /--s2s-dir needs --s2s/],
  ['an unknown flag', ['emulator', '--prot', '1'], /Unknown option '--prot'/],
  ['an unknown command', ['emulater'], /unknown command "emulater"/],
])('refuses %s with a usage message and exit code 2, before listening', async (_name, args, message) => {
  const { code, out, err } = await ran(args);
  expect(code).toBe(2);
  expect(err).toMatch(message);
  expect(out).not.toContain('listening');
});

it('`--s2s-dir` is created when missing, and an unusable one is refused before listening', { timeout: 20_000 }, async () => {
  const { mkdtempSync, existsSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const base = mkdtempSync(path.join(tmpdir(), 'mpa-sync-cli-test-'));
  try {
    const dir = path.join(base, 'nested', 'creds');
    const { child, out } = await running(['emulator', '--port', '0', '--s2s', '--s2s-dir', dir], /ca\.pem in .+\n/);
    child.kill('SIGTERM');
    expect(out).toContain(`ca.pem in ${dir}`);
    expect(existsSync(path.join(dir, 'key.pem'))).toBe(true);
    const file = path.join(base, 'a-file');
    writeFileSync(file, '');
    const { code, out: out2, err } = await ran(['emulator', '--port', '0', '--s2s', '--s2s-dir', path.join(file, 'sub')]);
    expect(code).toBe(2);
    expect(err).toMatch(/--s2s-dir: cannot create .*a-file\/sub \(ENOTDIR\)/);
    expect(out2).not.toContain('listening');
    // A parent that is there but cannot hold a directory (a dangling symlink; /proc on Linux):
    // refused at once, where node's own recursive mkdir walks back and forth forever.
    const { symlinkSync } = await import('node:fs');
    symlinkSync(path.join(base, 'missing'), path.join(base, 'dangling'));
    for (const unusable of [path.join(base, 'dangling', 'creds'), ...(process.platform === 'linux' ? ['/proc/mpa-sync-nope'] : [])]) {
      const refused = await ran(['emulator', '--port', '0', '--s2s', '--s2s-dir', unusable]);
      expect(refused.code, unusable).toBe(2);
      expect(refused.err).toContain(`--s2s-dir: cannot create ${unusable} (ENOENT)`);
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

it('the temporary credentials directory of `--s2s` is removed at exit', { timeout: 20_000 }, async () => {
  const { existsSync } = await import('node:fs');
  const { child, out } = await running(['emulator', '--port', '0', '--s2s'], /ca\.pem in .+\n/);
  const dir = /ca\.pem in (.+)\n/.exec(out)![1]!;
  expect(existsSync(dir)).toBe(true);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  expect(existsSync(dir)).toBe(false);
});
