/**
 * `mkdir -p` that always ends. Node 20's `mkdirSync(dir, { recursive: true })` never returns
 * when a parent exists but cannot hold children (a path under `/proc`, a dangling symlink):
 * its walk steps back on ENOENT and forward on EEXIST, forever. Here a directory that still
 * cannot be made once its parent exists is an error, thrown as `mkdir` threw it.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Makes `dir` and its missing parents; an existing directory is fine (and keeps its mode).
 * `mode` applies to `dir` itself when it is made (parents get the default). Throws like `mkdirSync`.
 */
export function makeDirectory(dir: string, mode?: number): void {
  try {
    mkdirSync(dir, { mode });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (statSync(dir).isDirectory()) return;
      throw error;
    }
    const parent = dirname(dir);
    // The root, or a parent that is there already: nothing more to make, the error stands.
    if (code !== 'ENOENT' || parent === dir) throw error;
    makeDirectory(parent);
    mkdirSync(dir, { mode }); // the parent exists now: an ENOENT here is final
  }
}
