/**
 * One measurement in a process of its own (clean heap, no leftovers from the previous one),
 * printed as JSON on the last line: `wire <scenario> <contender>`, `engine <players>`,
 * `cycle <players> entry|child`, `churn <players>`, `wait <players> flush|synced`.
 */
import { churnHeap, engineCost, waitCost, xstateCycle } from './process.js';
import { churn, fillAndChurn, handoff, lobbyBurst } from './scenarios.js';
import { CONTENDERS, runWire } from './wire.js';

const SCENARIOS = { 'fill-and-churn': fillAndChurn, 'lobby-burst': lobbyBurst, handoff, churn };
const [mode, a, b] = process.argv.slice(2);
const jobs: Record<string, () => Promise<unknown>> = {
  wire: () => runWire(SCENARIOS[a as keyof typeof SCENARIOS](), b as keyof typeof CONTENDERS),
  engine: () => engineCost(Number(a)),
  cycle: () => xstateCycle(Number(a), b === 'child' ? 'child' : 'entry'),
  churn: () => churnHeap(Number(a)),
  wait: () => waitCost(Number(a), b as 'flush' | 'synced'),
};
const job = jobs[mode ?? ''];
if (!job) throw new Error(`unknown bench job ${mode}`);
process.stdout.write(`${JSON.stringify(await job())}\n`);
process.exit(0);
