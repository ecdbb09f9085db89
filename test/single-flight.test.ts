import { describe, expect, it } from 'vitest';
import { SingleFlight } from '../src/auth/single-flight.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('SingleFlight', () => {
  it('callers that ask while a run is under way share it; a later caller starts a new one', async () => {
    const flight = new SingleFlight<number>();
    let runs = 0;
    const gate = deferred<void>();
    const job = async () => {
      runs++;
      await gate.promise;
      return runs;
    };
    const waiting = Array.from({ length: 100 }, () => flight.run(new AbortController().signal, job));
    gate.resolve();
    expect(await Promise.all(waiting)).toEqual(Array(100).fill(1));
    expect(await flight.run(new AbortController().signal, job)).toBe(2);
  });

  it('one caller giving up does not abort the run for the others; the last one giving up does', async () => {
    const flight = new SingleFlight<string>();
    let jobSignal: AbortSignal | undefined;
    const gate = deferred<string>();
    const first = new AbortController();
    const second = new AbortController();
    const a = flight.run(first.signal, async (signal) => ((jobSignal = signal), gate.promise));
    const b = flight.run(second.signal, async () => 'never started');
    first.abort(new Error('first gave up'));
    await expect(a).rejects.toThrow('first gave up');
    await Promise.resolve();
    expect(jobSignal!.aborted).toBe(false);
    second.abort(new Error('second gave up'));
    await expect(b).rejects.toThrow('second gave up');
    expect(jobSignal!.aborted).toBe(true);
  });

  it('a failed run is not cached: the next caller runs the job again', async () => {
    const flight = new SingleFlight<string>();
    const signal = new AbortController().signal;
    await expect(flight.run(signal, async () => Promise.reject(new Error('token service down')))).rejects.toThrow('token service down');
    expect(await flight.run(signal, async () => 'ok')).toBe('ok');
  });
});
