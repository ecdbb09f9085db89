import { install, type Clock } from '@sinonjs/fake-timers';
import { expect } from 'vitest';
import { MpaClient, type MpaClientOptions } from '../src/client.js';
import { MpaError } from '../src/errors.js';
import { startEmulator, type Emulator, type StartEmulatorOptions } from '../src/emulator/server.js';

export const TITLE = 1234567890;
export const TOKEN = 'XBL3.0 x=1111;secret-token-abc';
export const START = Date.parse('2026-01-01T00:00:00Z');

/** A fake clock that leaves microtasks alone, started at a realistic date. */
export function fakeClock(now = START): Clock {
  return install({ now, toNotFake: ['nextTick', 'queueMicrotask'] });
}

export async function emulatorAndClient(
  emulatorOptions: StartEmulatorOptions = {},
  clientOptions: Partial<MpaClientOptions> = {},
): Promise<{ emulator: Emulator; client: MpaClient; calls: () => number }> {
  const emulator = await startEmulator({ port: 0, host: '127.0.0.1', ...emulatorOptions });
  let count = 0;
  const client = new MpaClient({
    titleId: TITLE,
    baseUrl: emulator.url,
    authorization: () => TOKEN,
    fetch: (input, init) => {
      count++;
      return fetch(input, init);
    },
    ...clientOptions,
  });
  return { emulator, client, calls: () => count };
}

export const activity = (sequenceNumber: bigint | number | string, extra: Record<string, unknown> = {}) => ({
  connectionString: '203.0.113.7:7777?m=42',
  joinRestriction: 'Followed' as const,
  sequenceNumber,
  currentPlayers: 3,
  maxPlayers: 8,
  groupId: 'match-42',
  ...extra,
});

/** The MpaError a promise rejects with (the test fails if it resolves or rejects with anything else). */
export async function failure(promise: Promise<unknown>): Promise<MpaError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MpaError);
  return error as MpaError;
}
