/**
 * One measurement in a process of its own (clean heap, no leftovers from the previous
 * contender), printed as JSON: `wire <scenario> <contender>` or `process <players>`.
 */
import { runProcess } from './process.js';
import { fillAndChurn, handoff, lobbyBurst } from './scenarios.js';
import { CONTENDERS, runWire } from './wire.js';

const SCENARIOS = { 'fill-and-churn': fillAndChurn, 'lobby-burst': lobbyBurst, handoff };
const [mode, a, b] = process.argv.slice(2);
const result =
  mode === 'wire'
    ? await runWire(SCENARIOS[a as keyof typeof SCENARIOS](), b as keyof typeof CONTENDERS)
    : await runProcess(Number(a));
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
