/**
 * A call's timeout and the caller's signal, through the client: a call ends exactly at its
 * timeout or when its caller aborts, other calls go on, and nothing is left behind.
 */
import { getEventListeners } from 'node:events';
import { install } from '@sinonjs/fake-timers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MpaClient, MpaTransportError } from '../src/index.js';
import { activity, failure } from './helpers.js';

const XUID = '2533274800000001';
let clock: ReturnType<typeof install>;

beforeEach(() => {
  clock = install({ now: Date.parse('2026-01-01T00:00:00Z'), toNotFake: ['nextTick', 'queueMicrotask'] });
});
afterEach(() => clock.uninstall());

/** A transport that never answers on its own: it ends when its signal aborts, or when `answer()` is called. */
function hanging() {
  const signals: AbortSignal[] = [];
  const answers: (() => void)[] = [];
  const fetch = (_: unknown, init?: RequestInit) =>
    new Promise<Response>((resolve, reject) => {
      const signal = init!.signal!;
      signals.push(signal);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      answers.push(() => resolve(new Response(null, { status: 204 })));
    });
  const client = new MpaClient({ titleId: 1, baseUrl: 'http://127.0.0.1:9', authorization: () => 'XBL3.0 x=1;t', fetch, timeoutMs: 100 });
  return { client, signals, answerAll: () => answers.forEach((a) => a()) };
}

describe('call deadlines', () => {
  it('a call times out exactly at its timeoutMs, never early', async () => {
    const { client } = hanging();
    const first = client.getActivity(XUID).then(() => 'answered', (e: unknown) => e);
    await clock.tickAsync(0); // the first call is in flight; the second joins it in the same millisecond
    const second = client.getActivity(XUID).then(() => 'answered', (e: unknown) => e);
    let settled = 0;
    void first.then(() => settled++);
    void second.then(() => settled++);
    await clock.tickAsync(99);
    expect(settled).toBe(0);
    await clock.tickAsync(1);
    expect(settled).toBe(2);
    for (const outcome of [await first, await second]) {
      expect(outcome).toBeInstanceOf(MpaTransportError);
      expect((outcome as MpaTransportError).reason).toBe('timeout');
    }
  });

  it('different caller signals never share: aborting one caller leaves the other call going', async () => {
    const { client, signals, answerAll } = hanging();
    const a = new AbortController();
    const b = new AbortController();
    const callA = client.getActivity(XUID, { signal: a.signal });
    const callB = client.getActivity(XUID, { signal: b.signal });
    await clock.tickAsync(0);
    expect(signals[0]).not.toBe(signals[1]);
    a.abort();
    const error = await failure(callA);
    expect((error as MpaTransportError).reason).toBe('aborted');
    expect(signals[1]!.aborted).toBe(false);
    answerAll();
    await expect(callB).resolves.toBeNull();
  });

  it('a caller abort ends every call on its signal, with the caller as the reason', async () => {
    const { client } = hanging();
    const caller = new AbortController();
    const calls = [client.getActivity(XUID, { signal: caller.signal }), client.getActivity(XUID, { signal: caller.signal })];
    await clock.tickAsync(0);
    caller.abort();
    for (const call of calls) expect(((await failure(call)) as MpaTransportError).reason).toBe('aborted');
  });

  it('once its calls are over, a deadline leaves no timer and no listener on the caller’s signal', async () => {
    const { client, answerAll } = hanging();
    const caller = new AbortController();
    const calls = Array.from({ length: 20 }, () => client.getActivity(XUID, { signal: caller.signal }));
    await clock.tickAsync(0);
    answerAll();
    await Promise.all(calls);
    expect(clock.countTimers()).toBe(0);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  it('many calls on one signal raise no "possible memory leak" warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const { client, answerAll } = hanging();
      const calls = Array.from({ length: 50 }, () => client.getActivity(XUID));
      await clock.tickAsync(0);
      answerAll();
      await Promise.all(calls);
      await new Promise((resolve) => process.nextTick(resolve)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });
});
