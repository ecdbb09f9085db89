/**
 * Every ```ts snippet in README.md and docs/*.md is typechecked against the real API, so the docs cannot rot.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import ts from 'typescript';
import { expect, it } from 'vitest';

const root = path.dirname(fileURLToPath(new URL('../package.json', import.meta.url)));
// The README and the reference pages it links to in docs/.
const docs = readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => path.join('docs', f));
const readme = ['README.md', ...docs].map((f) => readFileSync(path.join(root, f), 'utf8')).join('\n');
const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

it('README has snippets for the client, engine, hooks, invites, recent players, emulator, kit, Colyseus and metrics', () => {
  expect(snippets.length).toBeGreaterThanOrEqual(7);
  for (const name of ['MpaClient', 'ActivitySync', 'bindMatchmaker', 'invite(', 'recentPlayers', 'startEmulator', 'createTestKit', 'publishRoomActivity', 'instrumentSync']) {
    expect(snippets.some((s) => s.includes(name)), name).toBe(true);
  }
});

it('shows a Colyseus room publishing activities first, in under ten lines of code', () => {
  const first = snippets[0]!;
  expect(first).toContain("from 'mpa-sync/colyseus'");
  expect(first).toContain('extends Room');
  const code = first.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('declare '));
  expect(code.length).toBeLessThan(10);
});

it('every README snippet typechecks against the published types', { timeout: 120_000 }, () => {
  const config = ts.getParsedCommandLineOfConfigFile(path.join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
  // Virtual files inside test/, so that 'mpa-sync' resolves to this package (dist types).
  const files = new Map(snippets.map((code, i) => [path.join(root, 'test', `__readme_snippet_${i}.ts`), `${code}\nexport {};\n`]));
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
