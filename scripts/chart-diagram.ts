/**
 * Prints the player chart as a Mermaid state diagram, read from the machine itself: every
 * state, and every transition with its event and guard. docs/engine.md holds its output, and
 * test/chart-diagram.test.ts fails when the two differ, so the diagram is always the chart.
 *
 *   npx tsx scripts/chart-diagram.ts
 */
import { pathToFileURL } from 'node:url';
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { createPlayerMachine } from '../src/engine/player-chart.js';

/** The chart's states and transitions, one Mermaid line each, in the chart's own order. */
export function chartDiagram(machine: AnyStateMachine): string {
  const lines = ['stateDiagram-v2'];
  const name = (node: AnyStateNode) => node.path.join('_') || '[*]';
  const visit = (node: AnyStateNode, depth: number) => {
    const pad = '  '.repeat(depth);
    const children = Object.values(node.states) as AnyStateNode[];
    if (node.path.length > 0 && children.length > 0) lines.push(`${pad}state ${name(node)} {`);
    const inner = node.path.length > 0 && children.length > 0 ? depth + 1 : depth;
    if (children.length > 0) lines.push(`${'  '.repeat(inner)}[*] --> ${name(node.states[node.config.initial as string] as AnyStateNode)}`);
    for (const child of children) visit(child, inner);
    if (node.path.length > 0 && children.length > 0) lines.push(`${pad}}`);
  };
  visit(machine.root, 1);
  const edges = (node: AnyStateNode) => {
    const transitions = [...(node.always ?? []).map((t) => ['always', t] as const), ...[...node.transitions.entries()].flatMap(([event, ts]) => ts.map((t) => [event, t] as const))];
    for (const [event, t] of transitions) {
      const targets = (t.target ?? []) as AnyStateNode[];
      const shown = event.startsWith('xstate.after.') ? `after ${event.split('.')[2]}` : event;
      const guard = t.guard ? ` [${typeof t.guard === 'string' ? t.guard : typeof t.guard === 'object' && 'type' in t.guard ? t.guard.type : 'inline guard'}]` : '';
      const actions = (t.actions as { type?: string }[]).map((a) => (typeof a === 'string' ? a : a.type)).filter((a): a is string => typeof a === 'string' && !a.startsWith('xstate.'));
      const doing = actions.length ? ` / ${actions.join(', ')}` : '';
      if (targets.length === 0) lines.push(`  ${name(node)} --> ${name(node)} : ${shown}${guard}${doing} (stays)`);
      for (const target of targets) lines.push(`  ${name(node)} --> ${name(target)} : ${shown}${guard}${doing}`);
    }
    for (const child of Object.values(node.states) as AnyStateNode[]) edges(child);
  };
  edges(machine.root);
  for (const node of allNodes(machine.root)) if (node.type === 'final') lines.push(`  ${name(node)} --> [*]`);
  return lines.join('\n');
}

function allNodes(node: AnyStateNode): AnyStateNode[] {
  return [node, ...(Object.values(node.states) as AnyStateNode[]).flatMap(allNodes)];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(chartDiagram(createPlayerMachine({ now: () => 0 })));
}
