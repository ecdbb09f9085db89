/**
 * The package as a user gets it: `npm pack`, installed from the tarball into a fresh CommonJS
 * project and a fresh ESM project (dependencies from the npm registry or its cache), run in
 * both, and a consumer file typechecked under NodeNext (ESM and CommonJS), Node16 (both) and
 * Bundler. Slow by nature (two installs): one generous timeout, no network but the registry.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = path.dirname(fileURLToPath(new URL('../package.json', import.meta.url)));
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  version: string;
  engines: { node: string };
  license: string;
  scripts: Record<string, string>;
  devDependencies: Record<string, string>;
};
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
// Peer dependencies the subpaths need, at the versions this repository tests with.
const peers = ['@opentelemetry/api', '@colyseus/core', '@sinonjs/fake-timers'].map((name) => `${name}@${pkg.devDependencies[name]}`);

let work: string;
let tarball: string;
let packed: string[];

async function npmIn(cwd: string, args: string[]) {
  return run(npm, args, { cwd, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' }, maxBuffer: 32 * 1024 * 1024 });
}

async function project(name: string, type: 'commonjs' | 'module'): Promise<string> {
  const dir = path.join(work, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, private: true, type }));
  await npmIn(dir, ['install', '--prefer-offline', '--no-package-lock', tarball, ...peers]);
  return dir;
}

// What both consumers run: every entry point loads, and a real round trip through the emulator.
const body = `
  const version = JSON.parse(require('node:fs').readFileSync(require.resolve('mpa-sync/package.json'), 'utf8')).version;
  const emulator = await emulatorEntry.startEmulator({ port: 0, host: '127.0.0.1' });
  const client = new mpa.MpaClient({ titleId: 1234567890, baseUrl: emulator.url, authorization: () => 'XBL3.0 x=1;t' });
  const sync = new mpa.ActivitySync({ client });
  const metrics = otel.instrumentSync(sync);
  sync.group({ groupId: 'm', connectionString: 'c', maxPlayers: 4 }).join('2533274800000001');
  await sync.flush();
  const activity = await client.getActivity('2533274800000001');
  await sync.close();
  metrics.stop();
  await emulator.close();
  let validation;
  try { new mpa.MpaClient({ titleId: -1, authorization: () => '' }); } catch (e) { validation = e instanceof mpa.MpaError && e.code; }
  console.log(JSON.stringify({
    version,
    players: activity && activity.currentPlayers,
    testKit: typeof testing.createTestKit,
    colyseus: typeof colyseus.publishRoomActivity,
    emulator: [typeof emulatorEntry.inProcessFetch, typeof emulatorEntry.EmulatorCore, 'startEmulator' in mpa],
    validation,
  }));
`;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'mpa-sync-pack-'));
  // --ignore-scripts: `npm test` built dist/ already; rebuilding here would rewrite files other test files are reading.
  const { stdout } = await npmIn(root, ['pack', '--ignore-scripts', '--json', '--pack-destination', work]);
  const [info] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  tarball = path.join(work, info!.filename);
  packed = info!.files.map((f) => f.path);
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
}, 120_000);

describe('the packed tarball', () => {
  it('ships dist with CommonJS type twins, the sources its source maps point to, the examples and the LICENSE; no tests', () => {
    for (const file of ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/index.d.cts', 'dist/testing/index.d.cts', 'dist/colyseus/index.d.cts', 'dist/otel/index.d.cts', 'dist/emulator/index.d.cts', 'dist/cli.js', 'src/index.ts', 'examples/colyseus-server.ts']) {
      expect(packed, file).toContain(file);
    }
    expect(packed.filter((f) => f.startsWith('test/'))).toEqual([]);
    const missing: string[] = [];
    for (const map of packed.filter((f) => f.endsWith('.js.map'))) {
      const { sources } = JSON.parse(readFileSync(path.join(root, map), 'utf8')) as { sources: string[] };
      for (const source of sources) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(map), source));
        if (!packed.includes(target)) missing.push(`${map} -> ${target}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('has an MIT LICENSE matching package.json, and installs without a prepare step', () => {
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(path.join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect(pkg.scripts.prepare).toBeUndefined();
    expect(pkg.scripts.postinstall).toBeUndefined();
  });

  it('README links work from the installed package: every relative link and every file it names is in the package', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const relative = [...readme.matchAll(/\]\(([^)]+)\)/g)].map((m) => m[1]!.split('#')[0]!).filter((href) => href !== '' && !/^(https?:|mailto:)/.test(href));
    expect(relative.length).toBeGreaterThan(0);
    expect(relative.filter((file) => !packed.includes(file))).toEqual([]);
    const named = [...readme.matchAll(/`((?:examples|bench|src)\/[\w./-]+\.(?:ts|md))`/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((file) => !packed.includes(file))).toEqual([]);
  });

  it('states its Node floor: the first release that can require() ESM unflagged', () => {
    expect(pkg.engines.node).toBe('>=20.19.0');
  });
});

describe('installed into fresh projects', () => {
  let cjs: string;
  let esm: string;
  beforeAll(async () => {
    [cjs, esm] = await Promise.all([project('cjs', 'commonjs'), project('esm', 'module')]);
  }, 300_000);

  it("require()s mpa-sync and every subpath from a CommonJS project, and runs", { timeout: 60_000 }, async () => {
    writeFileSync(
      path.join(cjs, 'index.js'),
      `const mpa = require('mpa-sync');\nconst testing = require('mpa-sync/testing');\nconst colyseus = require('mpa-sync/colyseus');\nconst otel = require('mpa-sync/otel');\nconst emulatorEntry = require('mpa-sync/emulator');\n(async () => {${body}})().catch((e) => { console.error(e); process.exit(1); });\n`,
    );
    const { stdout } = await run(process.execPath, ['index.js'], { cwd: cjs });
    expect(JSON.parse(stdout)).toEqual({ version: pkg.version, players: 1, testKit: 'function', colyseus: 'function', emulator: ['function', 'function', false], validation: 'VALIDATION' });
  });

  it('imports mpa-sync and every subpath from an ESM project, with the same classes as require()', { timeout: 60_000 }, async () => {
    writeFileSync(
      path.join(esm, 'index.js'),
      `import { createRequire } from 'node:module';\nimport * as mpa from 'mpa-sync';\nimport * as testing from 'mpa-sync/testing';\nimport * as colyseus from 'mpa-sync/colyseus';\nimport * as otel from 'mpa-sync/otel';\nimport * as emulatorEntry from 'mpa-sync/emulator';\nconst require = createRequire(import.meta.url);\nif (require('mpa-sync').MpaError !== mpa.MpaError) throw new Error('two copies of mpa-sync');\nif (require('mpa-sync/emulator').EmulatorCore !== emulatorEntry.EmulatorCore) throw new Error('two copies of mpa-sync/emulator');\n${body}`,
    );
    const { stdout } = await run(process.execPath, ['index.js'], { cwd: esm });
    expect(JSON.parse(stdout)).toEqual({ version: pkg.version, players: 1, testKit: 'function', colyseus: 'function', emulator: ['function', 'function', false], validation: 'VALIDATION' });
  });

  it('`mpa-sync --version` prints the version', { timeout: 30_000 }, async () => {
    const { stdout } = await run(process.execPath, [path.join(cjs, 'node_modules', 'mpa-sync', 'dist', 'cli.js'), '--version'], { cwd: cjs });
    expect(stdout.trim()).toBe(pkg.version);
    expect(existsSync(path.join(cjs, 'node_modules', '.bin', 'mpa-sync'))).toBe(true);
  });

  // The consumer uses every entry point, and one misuse that must stay an error (so types that
  // silently resolved to `any` would fail this test).
  const consumer = `
import { ActivitySync, MpaClient, MpaError, type SyncStats } from 'mpa-sync';
import { createTestKit, type TestKit } from 'mpa-sync/testing';
import { publishRoomActivity, type RoomActivityOptions } from 'mpa-sync/colyseus';
import { instrumentSync, SYNC_METRICS } from 'mpa-sync/otel';
import { EmulatorCore, inProcessFetch, type StartEmulatorOptions } from 'mpa-sync/emulator';

const client = new MpaClient({ titleId: 1234567890, authorization: () => 'XBL3.0 x=1;t' });
const local = new MpaClient({ titleId: 1234567890, authorization: () => 'XBL3.0 x=1;t', fetch: inProcessFetch(new EmulatorCore()) });
const emulatorOptions: StartEmulatorOptions = { port: 0, rateLimits: false };
const sync = new ActivitySync({ client });
const stats: SyncStats = sync.stats();
const kit: Promise<TestKit> = createTestKit();
const options: Pick<RoomActivityOptions, 'whenLocked'> = { whenLocked: 'InviteOnly' };
// @ts-expect-error joinRestriction is Public | Followed | InviteOnly
sync.group({ groupId: 'g', connectionString: 'c', maxPlayers: 4, joinRestriction: 'Nobody' });
// @ts-expect-error staleSequence is 'reject' | 'ignore'
new EmulatorCore({ staleSequence: 'never' });
export const used = [stats.requests, kit, options, publishRoomActivity, instrumentSync(sync).stop, SYNC_METRICS.requests, MpaError, local, emulatorOptions];
`;
  const modes = [
    { name: 'NodeNext, ESM package', dir: () => esm, file: 'consumer.ts', module: 'nodenext', moduleResolution: 'nodenext' },
    { name: 'NodeNext, CommonJS package', dir: () => cjs, file: 'consumer.ts', module: 'nodenext', moduleResolution: 'nodenext' },
    { name: 'Node16, ESM package', dir: () => esm, file: 'consumer16.ts', module: 'node16', moduleResolution: 'node16' },
    { name: 'Node16, CommonJS package', dir: () => cjs, file: 'consumer16.ts', module: 'node16', moduleResolution: 'node16' },
    { name: 'Bundler', dir: () => esm, file: 'consumer-bundler.ts', module: 'esnext', moduleResolution: 'bundler' },
  ];
  for (const mode of modes) {
    it(`typechecks a consumer under ${mode.name}`, { timeout: 120_000 }, async () => {
      const dir = mode.dir();
      writeFileSync(path.join(dir, mode.file), consumer);
      const config = `tsconfig.${mode.file.replace(/\.ts$/, '')}.json`;
      writeFileSync(
        path.join(dir, config),
        JSON.stringify({
          compilerOptions: {
            module: mode.module,
            moduleResolution: mode.moduleResolution,
            target: 'es2022',
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            types: ['node'],
            typeRoots: [path.join(root, 'node_modules', '@types')],
          },
          files: [mode.file],
        }),
      );
      const result = await run(process.execPath, [tsc, '-p', config], { cwd: dir }).then(
        () => '',
        (error: { stdout?: string }) => error.stdout ?? String(error),
      );
      expect(result).toBe('');
    });
  }
});
