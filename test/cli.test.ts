import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { expect, it, onTestFinished } from 'vitest';
import { MpaClient } from '../src/client.js';
import { TITLE, TOKEN } from './helpers.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

type Child = ChildProcessByStdio<null, Readable, Readable>;

/**
 * Starts `mpa-sync <args>` and resolves once its output matches `ready` (the URL line by
 * default). `command` runs something else than `node dist/cli.js` (the bin script itself).
 */
async function running(
  args: string[],
  ready = /listening on (http:\/\/\S+)\n/,
  command: [string, ...string[]] = [process.execPath, cli],
): Promise<{ child: Child; url: string; out: string; err: () => string }> {
  const [file, ...before] = command;
  const child = spawn(file, [...before, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` } });
  // A test that fails or times out must not leave an emulator running.
  onTestFinished(() => void child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (ready.test(out)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`mpa-sync exited with ${code}: ${err}`)));
  });
  return { child, url: /listening on (\S+)/.exec(out)![1]!, out, err: () => err };
}

/** Sends `signal` and resolves with the exit code once the process has exited. */
async function stop(child: Child, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill(signal);
  return exited;
}

/** Runs `mpa-sync <args>` to its end. */
async function ran(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  onTestFinished(() => void child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, out, err };
}

/** A port nothing listens on right now (the kernel's pick, released again). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A fresh directory under the system's temporary directory, removed after the test. */
function scratch(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mpa-sync-cli-test-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
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
  ['--s2s-port without --s2s', ['emulator', '--port', '0', '--s2s-port', '8788'], /--s2s-port needs --s2s/],
  ['a --s2s-port out of range', ['emulator', '--port', '0', '--s2s', '--s2s-port', '70000'], /--s2s-port must be 0\.\.65535, got 70000/],
  ['an empty --host, which would listen on every interface', ['emulator', '--port', '0', '--host', ''], /--host is empty, which would listen on every interface: pass --host 0\.0\.0\.0/],
  ['a blank --host', ['emulator', '--port', '0', '--host', ' '], /--host is empty/],
  ['an empty entry in --tokens', ['emulator', '--port', '0', '--tokens', 'XBL3.0 x=1;a,'], /--tokens has an empty entry/],
  ['--title-ids that are not numbers', ['emulator', '--port', '0', '--title-ids', '1234567890,abc'], /--title-ids must be decimal title ids from 1 to 4294967295, separated by commas; got "abc"/],
  ['a title id of 0', ['emulator', '--port', '0', '--title-ids', '0'], /--title-ids must be decimal title ids .* got "0"/],
  ['a title id past 32 bits', ['emulator', '--port', '0', '--title-ids', '4294967296'], /got "4294967296"/],
  ['a hexadecimal title id', ['emulator', '--port', '0', '--title-ids', '0x10'], /got "0x10"/],
  ['an empty entry in --title-ids', ['emulator', '--port', '0', '--title-ids', '1,,2'], /--title-ids has an empty entry/],
  ['an --expiry of 0', ['emulator', '--port', '0', '--expiry', '0'], /--expiry must be a whole number of milliseconds, at least 1, got 0/],
  ['a fractional --expiry', ['emulator', '--port', '0', '--expiry', '1.5'], /--expiry must be a whole number of milliseconds, at least 1, got 1\.5/],
  ['an --expiry that is not a number', ['emulator', '--port', '0', '--expiry', '1d'], /--expiry must be a decimal number, got "1d"/],
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
    expect(out).toContain(`ca.pem in ${dir}`);
    expect(existsSync(path.join(dir, 'key.pem'))).toBe(true);
    await stop(child);
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


it('`--help` lists --title-ids, --expiry and --s2s-port, and says which command a CI script should run', async () => {
  const { code, out } = await ran(['--help']);
  expect(code).toBe(0);
  expect(out).toMatch(/--title-ids <a,b> .*title ids/);
  expect(out).toMatch(/--expiry <ms> .*removed/);
  expect(out).toMatch(/--s2s-port <n> .*port of the token endpoints/);
  expect(out).toMatch(/SIGINT, SIGTERM and SIGHUP/);
  expect(out).toMatch(/node_modules\/\.bin\/mpa-sync, not npx/);
});

it('`--title-ids` refuses other titles and `--expiry` drops an activity not updated in time', { timeout: 20_000 }, async () => {
  const { child, url } = await running(['emulator', '--port', '0', '--title-ids', `${TITLE},42`, '--expiry', '1']);
  try {
    const mine = new MpaClient({ titleId: TITLE, baseUrl: url, authorization: () => TOKEN });
    const other = new MpaClient({ titleId: 7, baseUrl: url, authorization: () => TOKEN });
    await mine.setActivity('2533274800000001', { connectionString: 'c', joinRestriction: 'Public', sequenceNumber: 1 });
    await expect(other.getActivity('2533274800000001')).rejects.toMatchObject({ status: 400, errorCode: 'AuthorizationError' });
    await new Promise((resolve) => setTimeout(resolve, 20)); // past the 1 ms expiry
    expect(await mine.getActivity('2533274800000001')).toBeNull();
  } finally {
    await stop(child);
  }
});

it("`--tokens ''` accepts no token, as `tokens: []` does, and says so on stderr", { timeout: 20_000 }, async () => {
  const { child, url, err } = await running(['emulator', '--port', '0', '--tokens', '']);
  try {
    expect(err()).toContain("--tokens '' accepts no token: every call gets 401");
    const res = await fetch(`${url}/titles/${TITLE}/users/2533274800000001/activities`, { headers: { authorization: TOKEN } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('XBL3.0 realm="xboxlive.com", error="invalid_token"');
  } finally {
    await stop(child);
  }
});

it('`--s2s-port` puts the token endpoints on that port, reported on stdout and on GET /_emulator/s2s', { timeout: 20_000 }, async () => {
  const port = await freePort();
  const { child, url, out } = await running(['emulator', '--port', '0', '--s2s', '--s2s-port', String(port)], /ca\.pem in .+\n/);
  try {
    expect(out).toContain(`s2s: service token https://127.0.0.1:${port}/service/authenticate\n`);
    expect(out).toContain(`s2s: xsts https://127.0.0.1:${port}/xsts/authorize\n`);
    const answer = (await (await fetch(`${url}/_emulator/s2s`)).json()) as Record<string, unknown>;
    expect(answer).toMatchObject({ serviceAuthUrl: `https://127.0.0.1:${port}/service/authenticate`, xstsUrl: `https://127.0.0.1:${port}/xsts/authorize`, sandboxId: 'RETAIL' });
  } finally {
    expect(await stop(child)).toBe(0);
  }
  // Freed at exit: the next start on the same fixed port works.
  const again = await running(['emulator', '--port', '0', '--s2s', '--s2s-port', String(port)], /ca\.pem in .+\n/);
  expect(await stop(again.child)).toBe(0);
});

it('`--s2s-dir` writes key.pem with mode 0600 as new files, and removes the three files (not the directory) at exit', { timeout: 20_000 }, async () => {
  const dir = path.join(scratch(), 'creds');
  const { child } = await running(['emulator', '--port', '0', '--s2s', '--s2s-dir', dir], /ca\.pem in .+\n/);
  expect(statSync(path.join(dir, 'key.pem')).mode & 0o777).toBe(0o600);
  expect(statSync(dir).mode & 0o777).toBe(0o700); // made by the command: its owner only
  expect(readFileSync(path.join(dir, 'ca.pem'), 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
  expect(await stop(child)).toBe(0);
  expect(['cert.pem', 'key.pem', 'ca.pem'].filter((f) => existsSync(path.join(dir, f)))).toEqual([]);
  expect(existsSync(dir)).toBe(true);
});

it.each([
  ['a symbolic link to an existing file', (dir: string, victim: string) => symlinkSync(victim, path.join(dir, 'key.pem'))],
  ['a dangling symbolic link', (dir: string, victim: string) => symlinkSync(`${victim}-new`, path.join(dir, 'key.pem'))],
  ['an existing key.pem', (dir: string) => writeFileSync(path.join(dir, 'key.pem'), 'original', { mode: 0o644 })],
])('`--s2s-dir` with %s planted as key.pem: refused naming the file, nothing written through it', { timeout: 20_000 }, async (_name, plant) => {
  const base = scratch();
  const dir = path.join(base, 'creds');
  mkdirSync(dir);
  const victim = path.join(base, 'victim');
  writeFileSync(victim, 'original', { mode: 0o644 });
  chmodSync(victim, 0o644);
  plant(dir, victim);
  const before = lstatSync(path.join(dir, 'key.pem'));
  const { code, out, err } = await ran(['emulator', '--port', '0', '--s2s', '--s2s-dir', dir]);
  expect(code).toBe(2);
  expect(err).toContain(`--s2s-dir: ${path.join(dir, 'key.pem')} already exists (a file or a symbolic link)`);
  expect(err).not.toMatch(/PRIVATE KEY|BEGIN/);
  expect(out).not.toContain('s2s: cert.pem');
  // The planted file or link is as it was; its target kept its content and mode; no key anywhere.
  const after = lstatSync(path.join(dir, 'key.pem'));
  expect([after.isSymbolicLink(), after.ino, after.mode]).toEqual([before.isSymbolicLink(), before.ino, before.mode]);
  if (after.isSymbolicLink()) expect(readlinkSync(path.join(dir, 'key.pem'))).toMatch(/victim/);
  expect(readFileSync(victim, 'utf8')).toBe('original');
  expect(statSync(victim).mode & 0o777).toBe(0o644);
  expect(existsSync(`${victim}-new`)).toBe(false);
  // The certificate written before the refusal is removed again.
  expect(existsSync(path.join(dir, 'cert.pem'))).toBe(false);
});

it('after SIGHUP (a closed terminal or SSH session) the temporary credentials directory is removed, as on SIGINT and SIGTERM', { timeout: 20_000 }, async () => {
  for (const signal of ['SIGHUP', 'SIGINT'] as const) {
    const { child, out } = await running(['emulator', '--port', '0', '--s2s'], /ca\.pem in .+\n/);
    const dir = /ca\.pem in (.+)\n/.exec(out)![1]!;
    expect(existsSync(path.join(dir, 'key.pem'))).toBe(true);
    expect(await stop(child, signal), signal).toBe(0);
    expect(existsSync(dir), signal).toBe(false);
  }
});

it('the bin script as a CI script runs it (node_modules/.bin/mpa-sync, by its shebang) stops on SIGTERM and frees its port', { timeout: 30_000 }, async () => {
  // What `npm install` makes: node_modules/.bin/mpa-sync, a link to dist/cli.js, made executable.
  const bin = path.join(scratch(), 'node_modules', '.bin');
  mkdirSync(bin, { recursive: true });
  symlinkSync(cli, path.join(bin, 'mpa-sync'));
  chmodSync(cli, 0o755);
  expect(readFileSync(cli, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  const port = await freePort();
  for (const command of [[path.join(bin, 'mpa-sync')], [process.execPath, cli]] as [string, ...string[]][]) {
    for (let start = 0; start < 2; start++) {
      // The second start on the same port fails with EADDRINUSE unless the first one let go of it.
      const { child, url } = await running(['emulator', '--port', String(port)], undefined, command);
      expect(url).toBe(`http://127.0.0.1:${port}`);
      expect(await stop(child)).toBe(0);
    }
  }
});
