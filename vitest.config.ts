import { defineConfig } from 'vitest/config';

// The tarball test (npm pack, two npm installs, five tsc runs) is CPU-heavy: it runs alone,
// after every other test file, so it cannot slow their timers into timeouts on a small machine.
const tarball = 'test/package.test.ts';

export default defineConfig({
  test: {
    // Vitest's 5 s default is wall-clock time: on a 2-core machine under load (CI, or several
    // builds at once) CPU-bound property tests miss it while still correct. Speed is measured in
    // `npm run bench`, never by a test timeout.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts', 'examples/**/*.test.ts'], exclude: [tarball], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'package', include: [tarball], sequence: { groupOrder: 1 } } },
    ],
  },
});
