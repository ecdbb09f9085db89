/**
 * Writes a `.d.cts` beside every `.d.ts` in dist/, with relative specifiers ending in `.cjs`.
 *
 * Why: the package is ESM only, and its `require` condition points at the same ESM files
 * (Node >= 20.19 can require() ESM), so there is one copy of every class at run time. But
 * TypeScript under `module: node16` refuses to let a CommonJS file import a file it believes
 * is ESM. The `.d.cts` twins describe the same exports as CommonJS, so a CommonJS consumer
 * typechecks under Node16 and NodeNext alike.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const relative = /((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]*?)\.js(['"])/g;

for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
  const file = path.join(entry.parentPath, entry.name);
  const text = readFileSync(file, 'utf8').replace(relative, '$1$2.cjs$3');
  writeFileSync(file.slice(0, -'.d.ts'.length) + '.d.cts', text);
}
