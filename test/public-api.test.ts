/**
 * The main entry holds what a game server imports and nothing internal: at most 30 names,
 * each with a TSDoc comment.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { expect, it } from 'vitest';

const root = path.dirname(fileURLToPath(new URL('../package.json', import.meta.url)));

function exportsOf(entry: string): ts.Symbol[] {
  const file = path.join(root, entry);
  const program = ts.createProgram([file], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, skipLibCheck: true, noEmit: true });
  const checker = program.getTypeChecker();
  return checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(file)!)!).map((s) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s));
}

it('mpa-sync exports at most 30 names: client, auth, engine, errors and their option and event types', { timeout: 60_000 }, () => {
  const names = exportsOf('src/index.ts').map((s) => s.getName());
  expect(names.length).toBeLessThanOrEqual(30);
  for (const name of ['MpaClient', 'xboxServiceAuth', 'ActivitySync', 'MatchGroup', 'MpaError', 'SyncEvents', 'SyncEvent', 'ActivitySyncOptions']) expect(names).toContain(name);
  for (const internal of ['SequenceStamper', 'seededRandom', 'throttleScope', 'EmulatorCore', 'startEmulator', 'CoreRequest']) expect(names).not.toContain(internal);
});

it('every exported name of every entry point has a TSDoc comment', { timeout: 60_000 }, () => {
  const undocumented: string[] = [];
  for (const entry of ['src/index.ts', 'src/emulator/index.ts', 'src/testing/index.ts', 'src/colyseus/index.ts', 'src/agones/index.ts', 'src/otel/index.ts']) {
    for (const symbol of exportsOf(entry)) {
      const documented = symbol.getDeclarations()?.some((d) => ts.getJSDocCommentsAndTags(d).length > 0 || ts.getJSDocCommentsAndTags(d.parent?.parent ?? d).length > 0);
      if (!documented) undocumented.push(`${entry}: ${symbol.getName()}`);
    }
  }
  expect(undocumented).toEqual([]);
});
