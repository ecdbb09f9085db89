/**
 * `examples/agones-server.ts` end to end, the way docs/agones.md says to run it
 * (`npm run example:agones`, i.e. `tsx examples/agones-server.ts`), in a process of its own.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const root = path.dirname(fileURLToPath(new URL('../package.json', import.meta.url)));
const pkg = (await import('../package.json', { with: { type: 'json' } })).default as { scripts: Record<string, string> };

it('the Agones example runs with one command: Ready, allocated, players come and go, shutdown leaves nothing on the service', { timeout: 60_000 }, async () => {
  expect(pkg.scripts['example:agones']).toBe('tsx examples/agones-server.ts');
  const tsx = path.join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const { stdout } = await promisify(execFile)(process.execPath, [tsx, 'examples/agones-server.ts'], { cwd: root });
  const lines = stdout.split('\n');
  for (const step of ['1. Ready', '2. Allocated for match-42 with two players', '3. A friend drops in', '4. The matchmaker closes the match', '5. Bob leaves', '6. The match ends']) {
    expect(lines.some((l) => l.startsWith(step)), step).toBe(true);
  }
  expect(stdout).toContain('…0001: 2/8 Followed 203.0.113.7:7777 group match-42');
  expect(stdout).toContain('…0003: 3/8 InviteOnly 203.0.113.7:7777 group match-42');
  expect(stdout).toContain('DELETE …0002  204  leave');
  expect(lines.at(-2)).toMatch(/^done: \d+ requests, 0 activities possibly left \(undeleted\), 0 on the service$/);
});
