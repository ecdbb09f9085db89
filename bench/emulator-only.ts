/**
 * Section 3 of the bench alone: the emulator's throughput against its bare node:http ceilings.
 * `npm run build && node --import tsx bench/emulator-only.ts [runs] [seconds]`
 */
import { LOAD_RUNS, LOAD_SECONDS, runEmulatorLoad } from './emulator-load.js';

const [runs = String(LOAD_RUNS), seconds = String(LOAD_SECONDS)] = process.argv.slice(2);
for (const r of await runEmulatorLoad(Number(runs), Number(seconds))) {
  const share = r.target === r.ceiling ? 'ceiling' : `${r.percentOfBare.toFixed(0)}% of its ceiling (pairs ${r.percentOfBareRange[0].toFixed(0)} to ${r.percentOfBareRange[1].toFixed(0)}%)`;
  console.log(`${r.target}: ${Math.round(r.requestsPerSecond)} req/s, ${share}, ${r.serverCpuMicrosPerRequest?.toFixed(1) ?? 'n/a'} us CPU/request, p99 ${r.p99LatencyMs} ms, non-2xx ${r.non2xx}`);
}
