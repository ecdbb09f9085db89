/**
 * The README's quick start as a new user copies it: the ESM block, its CommonJS twin, and the
 * output the README says they print. Shared by the snippet checks (test/readme.test.ts) and the
 * tarball test that runs both blocks in fresh projects (test/package.test.ts).
 */

/** The quick start's two code blocks and the output block after them. */
export interface QuickStart {
  /** The first ```ts block: ESM, top-level await. */
  esm: string;
  /** The second ```ts block: CommonJS (`import x = require()`, an async main). */
  cjs: string;
  /** The ```text block: what either prints. */
  output: string;
}

/** Cuts the `## Quick start` section out of the README and takes its blocks, in order. */
export function quickStartOf(readme: string): QuickStart {
  const start = readme.indexOf('\n## Quick start\n');
  if (start < 0) throw new Error('README has no "## Quick start" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const blocks = [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, code: m[2]! }));
  const ts = blocks.filter((b) => b.lang === 'ts');
  const text = blocks.filter((b) => b.lang === 'text');
  if (ts.length !== 2 || text.length !== 1) throw new Error(`the quick start should have two ts blocks and one text block, found ${ts.length} and ${text.length}`);
  return { esm: ts[0]!.code, cjs: ts[1]!.code, output: text[0]!.code };
}

/** Whether a snippet is CommonJS TypeScript (`import x = require('...')`), to be checked as a `.cts` file. */
export function isCommonJsSnippet(code: string): boolean {
  return /^import \w+ = require\(/m.test(code);
}
