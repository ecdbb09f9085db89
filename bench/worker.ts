/**
 * One measurement in a process of its own (clean heap, no leftovers from the previous one),
 * printed as JSON on the last line: `wire <scenario> <contender>`, `engine <players>`, `fetch`,
 * `heap <players>`, `steps <players>`. Any of them runs alone the same way:
 * `node --expose-gc --import tsx bench/worker.ts engine 10000`.
 */
import { chartStepCosts } from './chart-steps.js';
import { engineCost, fetchCost, heapCost } from './process.js';
import { churn, fillAndChurn, handoff, lobbyBurst, privacyToggles } from './scenarios.js';
import { CONTENDERS, runWire } from './wire.js';

const SCENARIOS = { 'fill-and-churn': fillAndChurn, 'lobby-burst': lobbyBurst, handoff, churn, 'privacy-toggles': privacyToggles };
const [mode, a, b] = process.argv.slice(2);
const jobs: Record<string, () => Promise<unknown>> = {
  wire: () => runWire(SCENARIOS[a as keyof typeof SCENARIOS](), b as keyof typeof CONTENDERS),
  engine: () => engineCost(Number(a)),
  fetch: () => fetchCost(),
  heap: () => heapCost(Number(a)),
  steps: async () => chartStepCosts(Number(a)),
};
const job = jobs[mode ?? ''];
if (!job) throw new Error(`unknown bench job ${mode}`);
process.stdout.write(`${JSON.stringify(await job())}\n`);
process.exit(0);
