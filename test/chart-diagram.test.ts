/**
 * The diagram in docs/engine.md is the chart: generated from the machine, compared here.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { createPlayerMachine } from '../src/engine/player-chart.js';
import { chartDiagram } from '../scripts/chart-diagram.js';

it('docs/engine.md shows the player chart as it is (regenerate with npx tsx scripts/chart-diagram.ts)', () => {
  const docs = readFileSync(new URL('../docs/engine.md', import.meta.url), 'utf8');
  const shown = /```mermaid\n([\s\S]*?)\n```/.exec(docs)?.[1];
  expect(shown).toBe(chartDiagram(createPlayerMachine({ now: () => 0 })));
});

it('names every state and guard of the chart', () => {
  const diagram = chartDiagram(createPlayerMachine({ now: () => 0 }));
  for (const name of ['updating_pacing', 'leaving_inFlight', 'gone --> [*]', '[isLeave]', '[canRetry]', '[shouldPace]', 'after pace']) expect(diagram).toContain(name);
});
