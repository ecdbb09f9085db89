/**
 * The emulator soak on its own, without the rest of `npm run bench` (which runs it too):
 * `npm run build && node --import tsx bench/emulator-soak.ts [requests=200000] [players=2000]`.
 * Prints the requests served, the answers, and the CLI process's heap at start, after the
 * warm-up and at the end, as JSON.
 */
import { runEmulatorSoak } from './emulator-load.js';

const [requests = '200000', players = '2000'] = process.argv.slice(2);
process.stdout.write(`${JSON.stringify(await runEmulatorSoak(Number(requests), Number(players)), null, 2)}\n`);
