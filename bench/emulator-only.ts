/**
 * Section 3 of the bench alone: fully validated PUTs driven at the emulator by autocannon and
 * by one fetch client, side by side. Prints the section as `npm run bench` writes it into
 * bench/RESULTS.md.
 * `npm run build && node --import tsx bench/emulator-only.ts [rounds] [seconds]`
 */
import { emulatorSection, LOAD_ROUNDS, LOAD_SECONDS, runEmulatorLoad } from './emulator-load.js';

const [rounds = String(LOAD_ROUNDS), seconds = String(LOAD_SECONDS)] = process.argv.slice(2);
const load = await runEmulatorLoad(Number(rounds), Number(seconds));
console.log(emulatorSection(load, (text, ok) => `${text} **${ok ? 'PASS' : 'FAIL'}**`));
