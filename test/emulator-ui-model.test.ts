/**
 * The live page's model without a browser: the functions the page script draws from, run
 * here as the page runs them (the same source text, evaluated).
 */
import { expect, it } from 'vitest';
import { PAGE_MODEL_SCRIPT, PAGE_SCRIPT } from '../src/emulator/ui-page.js';

type Card = { xuid: string; groupId?: string };
type Group = { groupId: string; members: Card[] };
// The page's own source, evaluated: what runs in the browser is what is tested here.
const groupByMatch = new Function(`${PAGE_MODEL_SCRIPT}\nreturn groupByMatch;`)() as (list: Card[], max: number) => Group[];

it('the page script includes the model it is tested through', () => {
  expect(PAGE_SCRIPT).toContain(PAGE_MODEL_SCRIPT);
});

it('groups activities by match, in the order given; any group id is a group, Object.prototype names included', () => {
  const ids = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'arena-1'];
  const list: Card[] = ids.flatMap((groupId, i) => [
    { xuid: `${i}a`, groupId },
    { xuid: `${i}b`, groupId },
  ]);
  const groups = groupByMatch(list, 1000);
  expect(groups.map((g) => g.groupId)).toEqual(ids);
  expect(groups.map((g) => g.members.map((m) => m.xuid))).toEqual(ids.map((_, i) => [`${i}a`, `${i}b`]));
});

it('puts activities without a group together, and draws at most max cards', () => {
  const list: Card[] = [{ xuid: '1' }, { xuid: '2', groupId: 'm' }, { xuid: '3' }, { xuid: '4', groupId: 'm' }];
  expect(groupByMatch(list, 3)).toEqual([
    { groupId: '(no group)', members: [{ xuid: '1' }, { xuid: '3' }] },
    { groupId: 'm', members: [{ xuid: '2', groupId: 'm' }] },
  ]);
});
