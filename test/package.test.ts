/**
 * The package as a user gets it: `npm pack`, installed from the tarball into a fresh CommonJS
 * project (`npm init -y`) and a fresh ESM project (the same, then `npm pkg set type=module`),
 * dependencies from the npm registry or its cache. Run in both: every entry point, the README's
 * quick start block for each kind of project (typechecked under `tsc --init`'s defaults and run
 * with tsx, as the README says), the shipped examples, and a consumer file typechecked under
 * NodeNext (ESM and CommonJS), Node16 (both) and Bundler. Slow by nature (two installs): one
 * generous timeout, no network but the registry.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quickStartOf } from './readme-quickstart.js';

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
const pinned = (names: string[]) => names.map((name) => `${name}@${pkg.devDependencies[name]}`);
// Peer dependencies the subpaths need, and tsx (the README runs its quick start and the examples
// with it), at the versions this repository tests with.
const peers = pinned(['@opentelemetry/api', '@colyseus/core', '@sinonjs/fake-timers', '@google-cloud/agones-sdk', 'tsx']);
// What the Colyseus example needs besides (README: "The demo and the examples").
const colyseusExample = pinned(['@colyseus/ws-transport', '@colyseus/sdk']);
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');

let work: string;
let tarball: string;
let packed: string[];

async function npmIn(cwd: string, args: string[]) {
  return run(npm, args, { cwd, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' }, maxBuffer: 32 * 1024 * 1024 });
}

/** A project as a new user makes one: `npm init -y` (CommonJS), plus `npm pkg set type=module` for ESM. */
async function project(name: string, type: 'commonjs' | 'module', extra: string[] = []): Promise<string> {
  const dir = path.join(work, name);
  mkdirSync(dir);
  await npmIn(dir, ['init', '-y']);
  if (type === 'module') await npmIn(dir, ['pkg', 'set', 'type=module']);
  await npmIn(dir, ['install', '--prefer-offline', '--no-package-lock', tarball, ...peers, ...extra]);
  return dir;
}

/** Runs a command, resolving with its output and exit code instead of rejecting on a non-zero exit. */
async function outcome(file: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(file, args, { cwd, maxBuffer: 32 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: typeof error.code === 'number' ? error.code : -1, stdout: error.stdout ?? '', stderr: error.stderr ?? String(error) }),
  );
}

/**
 * Writes `code` as `<dir>/<sub>/quickstart.ts` with the tsconfig.json that `tsc --init` makes
 * there, and typechecks it: tsc's diagnostics, '' when clean.
 */
async function typecheckAsInit(dir: string, sub: string, code: string): Promise<string> {
  const folder = path.join(dir, sub);
  mkdirSync(folder);
  writeFileSync(path.join(folder, 'quickstart.ts'), code);
  await run(process.execPath, [tsc, '--init'], { cwd: folder });
  const result = await outcome(process.execPath, [tsc, '-p', '.', '--noEmit'], folder);
  return result.stdout.trim();
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
  // The local Agones SDK server finds the peer's service definitions from the installed package.
  const local = await testing.startLocalAgonesSdk({ gameServer: { name: 'packed' } });
  process.env.AGONES_SDK_GRPC_PORT = String(local.port);
  const AgonesSDK = require('@google-cloud/agones-sdk');
  const sdk = new AgonesSDK();
  const gameServer = (await sdk.getGameServer()).objectMeta.name;
  sdk.close(); sdk.alpha.client.close(); sdk.beta.client.close();
  await local.close();
  console.log(JSON.stringify({
    version,
    players: activity && activity.currentPlayers,
    testKit: typeof testing.createTestKit,
    colyseus: typeof colyseus.publishRoomActivity,
    agones: typeof agones.publishGameServerActivity,
    gameServer,
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
  it('ships what a user needs: dist (JavaScript, types and their CommonJS twins), docs, examples, README, LICENSE; no sources, maps, bench or tests', () => {
    const roots = ['LICENSE', 'README.md', 'package.json'];
    expect(packed.filter((f) => !roots.includes(f) && !/^(dist|docs|examples)\//.test(f))).toEqual([]);
    for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/index.d.cts', 'dist/cli.js', 'dist/emulator/index.d.cts', 'dist/testing/index.d.cts', 'dist/colyseus/index.d.cts', 'dist/otel/index.d.cts', 'dist/agones/index.d.cts', 'examples/dedicated-server.ts', 'examples/colyseus-server.ts', 'examples/agones-server.ts', 'docs/troubleshooting.md', 'docs/agones.md']) {
      expect(packed, file).toContain(file);
    }
    expect(packed.filter((f) => f.endsWith('.map'))).toEqual([]);
    // No JavaScript file points at a map the package does not have.
    expect(packed.filter((f) => f.endsWith('.js') && readFileSync(path.join(root, f), 'utf8').includes('sourceMappingURL'))).toEqual([]);
    expect(packed.filter((f) => f.endsWith('.d.ts') && !packed.includes(f.replace(/\.d\.ts$/, '.d.cts')))).toEqual([]);
    const docs = readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
    expect(docs.filter((f) => !packed.includes(f))).toEqual([]);
    // Every exports entry and the bin resolve to a packed file.
    const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { exports: Record<string, string | Record<string, Record<string, string>>>; bin: Record<string, string> };
    const targets = Object.values(manifest.exports).flatMap((entry) => (typeof entry === 'string' ? [entry] : Object.values(entry).flatMap((c) => Object.values(c))));
    expect([...targets, ...Object.values(manifest.bin)].map((t) => path.posix.normalize(t)).filter((t) => !packed.includes(t))).toEqual([]);
  });

  it('has an MIT LICENSE matching package.json, and installs without a prepare step', () => {
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(path.join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect(pkg.scripts.prepare).toBeUndefined();
    expect(pkg.scripts.postinstall).toBeUndefined();
  });

  it('links work from the installed package: every relative link of the README and docs, and its anchor, and every example file the README names', () => {
    const headings = (file: string) =>
      new Set([...readFileSync(path.join(root, file), 'utf8').matchAll(/^#{1,6} (.+)$/gm)].map((m) => m[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s-]/gu, '').replace(/\s/g, '-')));
    const broken: string[] = [];
    let links = 0;
    for (const page of packed.filter((f) => f.endsWith('.md'))) {
      const text = readFileSync(path.join(root, page), 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const [, href] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^(https?:|mailto:)/.test(href!)) continue;
        links++;
        const [file, anchor] = href!.split('#');
        const target = file ? path.posix.normalize(path.posix.join(path.posix.dirname(page), file)) : page;
        if (!packed.includes(target)) broken.push(`${page}: ${href} (no ${target} in the package)`);
        else if (anchor && target.endsWith('.md') && !headings(target).has(anchor)) broken.push(`${page}: ${href} (no heading #${anchor})`);
      }
    }
    expect(links).toBeGreaterThan(10);
    expect(broken).toEqual([]);
    const named = [...readme.matchAll(/`((?:examples|docs)\/[\w./-]+\.(?:ts|md))`/g)].map((m) => m[1]!);
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
    [cjs, esm] = await Promise.all([project('cjs', 'commonjs'), project('esm', 'module', colyseusExample)]);
  }, 300_000);

  it("require()s mpa-sync and every subpath from a CommonJS project, and runs", { timeout: 60_000 }, async () => {
    writeFileSync(
      path.join(cjs, 'index.js'),
      `const mpa = require('mpa-sync');\nconst testing = require('mpa-sync/testing');\nconst colyseus = require('mpa-sync/colyseus');\nconst otel = require('mpa-sync/otel');\nconst agones = require('mpa-sync/agones');\nconst emulatorEntry = require('mpa-sync/emulator');\n(async () => {${body}})().catch((e) => { console.error(e); process.exit(1); });\n`,
    );
    const { stdout } = await run(process.execPath, ['index.js'], { cwd: cjs });
    expect(JSON.parse(stdout)).toEqual({ version: pkg.version, players: 1, testKit: 'function', colyseus: 'function', agones: 'function', gameServer: 'packed', emulator: ['function', 'function', false], validation: 'VALIDATION' });
  });

  it('imports mpa-sync and every subpath from an ESM project, with the same classes as require()', { timeout: 60_000 }, async () => {
    writeFileSync(
      path.join(esm, 'index.js'),
      `import { createRequire } from 'node:module';\nimport * as mpa from 'mpa-sync';\nimport * as testing from 'mpa-sync/testing';\nimport * as colyseus from 'mpa-sync/colyseus';\nimport * as otel from 'mpa-sync/otel';\nimport * as agones from 'mpa-sync/agones';\nimport * as emulatorEntry from 'mpa-sync/emulator';\nconst require = createRequire(import.meta.url);\nif (require('mpa-sync').MpaError !== mpa.MpaError) throw new Error('two copies of mpa-sync');\nif (require('mpa-sync/emulator').EmulatorCore !== emulatorEntry.EmulatorCore) throw new Error('two copies of mpa-sync/emulator');\n${body}`,
    );
    const { stdout } = await run(process.execPath, ['index.js'], { cwd: esm });
    expect(JSON.parse(stdout)).toEqual({ version: pkg.version, players: 1, testKit: 'function', colyseus: 'function', agones: 'function', gameServer: 'packed', emulator: ['function', 'function', false], validation: 'VALIDATION' });
  });

  const quickStart = quickStartOf(readme);
  const tsx = (dir: string) => path.join(dir, 'node_modules', '.bin', 'tsx'); // what `npx tsx` runs

  it("runs the README's CommonJS quick start in a project made by npm init -y: clean under tsc --init, prints what the README says", { timeout: 120_000 }, async () => {
    expect(JSON.parse(readFileSync(path.join(cjs, 'package.json'), 'utf8')).type ?? 'commonjs').toBe('commonjs');
    expect(await typecheckAsInit(cjs, 'quickstart-cjs', quickStart.cjs)).toBe('');
    const ran = await outcome(tsx(cjs), ['quickstart-cjs/quickstart.ts'], cjs);
    expect(ran).toEqual({ code: 0, stdout: quickStart.output, stderr: '' });
  });

  it("runs the README's ESM quick start in an ESM project: clean under tsc --init, prints what the README says", { timeout: 120_000 }, async () => {
    expect(await typecheckAsInit(esm, 'quickstart-esm', quickStart.esm)).toBe('');
    const ran = await outcome(tsx(esm), ['quickstart-esm/quickstart.ts'], esm);
    expect(ran).toEqual({ code: 0, stdout: quickStart.output, stderr: '' });
  });

  it('the ESM block in a CommonJS project fails the way the README says (TS1309, TS1295; tsx: top-level await and "cjs")', { timeout: 120_000 }, async () => {
    const problems = await typecheckAsInit(cjs, 'quickstart-wrong', quickStart.esm);
    expect(problems).toContain('error TS1309: The current file is a CommonJS module and cannot use \'await\' at the top level');
    expect(problems).toContain('error TS1295: ECMAScript imports and exports cannot be written in a CommonJS file under \'verbatimModuleSyntax\'');
    const ran = await outcome(tsx(cjs), ['quickstart-wrong/quickstart.ts'], cjs);
    expect(ran.code).not.toBe(0);
    expect(ran.stderr).toContain('Top-level await is currently not supported with the "cjs" output format');
    for (const said of ['TS1309', 'TS1295', 'Top-level await is currently\nnot supported with the "cjs" output format']) expect(readme).toContain(said);
  });

  it('runs the demo from node_modules/mpa-sync/examples with tsx, as the README says', { timeout: 120_000 }, async () => {
    expect(readme).toContain('npx tsx node_modules/mpa-sync/examples/dedicated-server.ts');
    const ran = await outcome(tsx(esm), ['node_modules/mpa-sync/examples/dedicated-server.ts'], esm);
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain('mpa-sync demo against the built-in emulator');
    expect(ran.stdout).toMatch(/activities left after shutdown\s*│\s*0\s*│/);
  });

  it('runs the Colyseus example from node_modules/mpa-sync/examples with tsx, as the README says', { timeout: 120_000 }, async () => {
    expect(readme).toContain('npx tsx node_modules/mpa-sync/examples/colyseus-server.ts --demo');
    const ran = await outcome(tsx(esm), ['node_modules/mpa-sync/examples/colyseus-server.ts', '--demo'], esm);
    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain('2533274800000001 2/8 InviteOnly');
    expect(ran.stdout).toContain('stopped; activities left behind: 0');
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
import { publishGameServerActivity, type GameServerActivityOptions } from 'mpa-sync/agones';
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
const agonesOptions: GameServerActivityOptions = { sync, playerTracking: 'list', shutdownTimeoutMs: 20_000 };
// @ts-expect-error staleSequence is 'reject' | 'ignore'
new EmulatorCore({ staleSequence: 'never' });
export const used = [stats.requests, kit, options, publishRoomActivity, instrumentSync(sync).stop, SYNC_METRICS.requests, MpaError, publishGameServerActivity, agonesOptions, local, emulatorOptions];
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
