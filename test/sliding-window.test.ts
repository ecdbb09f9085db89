import { describe, expect, it } from 'vitest';
import { SlidingWindows } from '../src/sliding-window.js';

const windows = () =>
  new SlidingWindows([
    { windowMs: 15_000, limit: 3, countsThrottled: false },
    { windowMs: 300_000, limit: 5 },
  ]);

describe('SlidingWindows', () => {
  it('has room until a window is full, then names when it frees', () => {
    const w = windows();
    expect(w.availableAt('u', 0)).toBe(0);
    w.record('u', 0);
    w.record('u', 1000);
    w.record('u', 2000);
    expect(w.check('u', 2000)).toMatchObject({ current: 3, freeAt: 15_000, window: { limit: 3 } });
    expect(w.availableAt('u', 2000)).toBe(15_000);
    expect(w.availableAt('other', 2000)).toBe(2000);
  });

  it('keeps a reserve: room for 1 + reserve more requests', () => {
    const w = windows();
    w.record('u', 0);
    w.record('u', 1000);
    expect(w.availableAt('u', 2000, 0)).toBe(2000);
    expect(w.availableAt('u', 2000, 1)).toBe(15_000);
  });

  it('the longer window governs once the burst window has room', () => {
    const w = windows();
    for (const t of [0, 20_000, 40_000, 60_000, 80_000]) w.record('u', t);
    expect(w.availableAt('u', 100_000)).toBe(300_000);
  });

  it('refused requests count only where the window says so', () => {
    const w = windows();
    for (const t of [0, 1, 2]) w.record('u', t, true);
    expect(w.check('u', 3)).toBeUndefined();
    w.record('u', 3, true);
    w.record('u', 4, true);
    expect(w.check('u', 5)?.window.limit).toBe(5);
  });

  it('touch moves a reservation later; remove gives it back; lastAt reads the newest', () => {
    const w = windows();
    const a = w.record('u', 0);
    w.record('u', 1000);
    w.record('u', 2000);
    w.touch('u', a, 5000);
    expect(w.lastAt('u')).toBe(5000);
    expect(w.availableAt('u', 6000)).toBe(16_000);
    w.remove('u', a);
    expect(w.availableAt('u', 6000)).toBe(6000);
  });

  it('adds the margin to every expiry', () => {
    const w = new SlidingWindows([{ windowMs: 15_000, limit: 1 }], 1000);
    w.record('u', 0);
    expect(w.availableAt('u', 100)).toBe(16_000);
  });

  it('usage reads how full each window is for a key without changing what it allows', () => {
    const w = windows();
    w.record('u', 0);
    w.record('u', 1000, true);
    w.record('u', 20_000);
    expect(w.keys()).toEqual(['u']);
    // At 20 s the first two left the burst window; the refused one never counted there.
    expect(w.usage('u', 20_000)).toEqual([
      { windowMs: 15_000, limit: 3, used: 1 },
      { windowMs: 300_000, limit: 5, used: 3 },
    ]);
    expect(w.usage('nobody', 20_000).map((u) => u.used)).toEqual([0, 0]);
    expect(w.availableAt('u', 20_000)).toBe(20_000);
    expect(w.usage('u', 20_000)[1]!.used).toBe(3);
  });
});
