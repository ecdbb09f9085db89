/**
 * Every ```ts snippet in README.md and docs/*.md is typechecked against the real API, so the docs cannot rot.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import ts from 'typescript';
import { expect, it } from 'vitest';
import { isCommonJsSnippet, quickStartOf } from './readme-quickstart.js';

const root = path.dirname(fileURLToPath(new URL('../package.json', import.meta.url)));
// The README and the reference pages it links to in docs/.
const docs = readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => path.join('docs', f));
const readmeOnly = readFileSync(path.join(root, 'README.md'), 'utf8');
const readme = ['README.md', ...docs].map((f) => readFileSync(path.join(root, f), 'utf8')).join('\n');
const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

it('README has snippets for the client, engine, hooks, invites, recent players, emulator, kit, Colyseus and metrics', () => {
  expect(snippets.length).toBeGreaterThanOrEqual(7);
  for (const name of ['MpaClient', 'ActivitySync', 'bindMatchmaker', 'invite(', 'recentPlayers', 'startEmulator', 'createTestKit', 'publishRoomActivity', 'instrumentSync']) {
    expect(snippets.some((s) => s.includes(name)), name).toBe(true);
  }
});

it('opens with a quick start that runs as pasted: the emulator, no certificate, nothing to declare, an ESM block and its CommonJS twin', () => {
  const { esm, cjs, output } = quickStartOf(readmeOnly);
  expect(snippets[0]).toBe(esm);
  for (const code of [esm, cjs]) {
    expect(code).not.toMatch(/^\s*declare /m);
    expect(code).not.toContain('xboxServiceAuth');
    expect(code).toMatch(/from 'mpa-sync\/emulator'|require\('mpa-sync\/emulator'\)/);
  }
  expect(esm).toMatch(/^await /m); // top-level await: ESM only
  expect(isCommonJsSnippet(esm)).toBe(false);
  expect(isCommonJsSnippet(cjs)).toBe(true);
  expect(cjs).toContain('async function main()');
  // The same program: the CommonJS body is the ESM one, indented inside main().
  const body = (code: string) => code.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !/^(import |const \{ \w+(, \w+)* \} = mpa|async function main|main\(\)|\})/.test(line));
  expect(body(cjs)).toEqual(body(esm));
  expect(output.trim().split('\n').length).toBeGreaterThan(0);
});

it('shows a Colyseus room publishing activities in under ten lines of code, with the 0.18 pins', () => {
  const room = snippets.find((s) => s.includes('extends Room') && s.includes('publishRoomActivity'))!;
  expect(room).toContain("from 'mpa-sync/colyseus'");
  const code = room.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('declare '));
  expect(code.length).toBeLessThan(10);
  expect(readmeOnly).toContain('npm install mpa-sync @colyseus/core@0.18 @colyseus/ws-transport@0.18');
});

it('every README snippet typechecks against the published types', { timeout: 120_000 }, () => {
  const config = ts.getParsedCommandLineOfConfigFile(path.join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
  // Virtual files inside test/, so that 'mpa-sync' resolves to this package (dist types).
  // A CommonJS snippet (`import x = require()`) is checked as a .cts file: CommonJS under NodeNext.
  const files = new Map(snippets.map((code, i) => (isCommonJsSnippet(code) ? [path.join(root, 'test', `__readme_snippet_${i}.cts`), `${code}\nexport {};\n`] : [path.join(root, 'test', `__readme_snippet_${i}.ts`), `${code}\nexport {};\n`])));
  const host = ts.createCompilerHost(config.options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (f) => files.has(f) || fileExists.call(host, f);
  host.readFile = (f) => files.get(f) ?? readFile.call(host, f);
  host.getSourceFile = (f, lang, ...rest) => {
    const text = files.get(f);
    return text !== undefined ? ts.createSourceFile(f, text, lang) : getSourceFile.call(host, f, lang, ...rest);
  };
  const program = ts.createProgram([...files.keys()], { ...config.options, noEmit: true, noUnusedLocals: false }, host);
  const problems = [...files.keys()].flatMap((f) =>
    ts.getPreEmitDiagnostics(program, program.getSourceFile(f)).map((d) => {
      const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
      return `${path.basename(f)}:${where ? where.line + 1 : '?'}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    }),
  );
  expect(problems).toEqual([]);
});

it('README names every runtime export of mpa-sync, mpa-sync/testing, mpa-sync/colyseus, mpa-sync/otel, mpa-sync/emulator and mpa-sync/agones', async () => {
  const api = {
    ...(await import('../src/index.js')),
    ...(await import('../src/testing/index.js')),
    ...(await import('../src/colyseus/index.js')),
    ...(await import('../src/otel/index.js')),
    ...(await import('../src/emulator/index.js')),
    ...(await import('../src/agones/index.js')),
  };
  const missing = Object.keys(api).filter((name) => !readme.includes(name));
  expect(missing).toEqual([]);
});
