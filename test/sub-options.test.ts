/**
 * Sub-options and the options of the smaller entry points are checked like every other option:
 * an unknown key (a typo, most often) or a bad value is a VALIDATION error naming it, at the
 * call that received it, never dropped or left to fail later with a misleading message.
 */
import { Room, ServerError } from '@colyseus/core';
import { afterEach, describe, expect, it } from 'vitest';
import { publishRoomActivity, type RoomActivityOptions } from '../src/colyseus/index.js';
import { createTestAuthority } from '../src/emulator/s2s-certs.js';
import {
  ActivitySync,
  MpaClient,
  MpaUsageError,
  MpaValidationError,
  xboxServiceAuth,
  type XboxServiceAuthOptions,
} from '../src/index.js';
import { EmulatorCore, inProcessFetch, startEmulator, type Emulator, type S2sOptions } from '../src/emulator/index.js';

const started: Emulator[] = [];
const syncs: ActivitySync[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((e) => e.close()));
  await Promise.all(syncs.splice(0).map((s) => s.close()));
});

/** Listening sockets of this process: a refused start must leave none behind. */
const listening = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;

/** The error `startEmulator({ s2s })` is refused with; fails the test if it started instead. */
async function s2sRefusal(s2s: unknown): Promise<MpaValidationError> {
  const before = listening();
  let emulator: Emulator | undefined;
  try {
    emulator = await startEmulator({ s2s: s2s as S2sOptions });
  } catch (error) {
    expect(listening(), 'a refused start left a socket listening').toBe(before);
    expect(error).toBeInstanceOf(MpaValidationError);
    return error as MpaValidationError;
  }
  started.push(emulator);
  throw new Error(`s2s ${JSON.stringify(s2s)} was accepted`);
}

async function startsWith(s2s: S2sOptions): Promise<Emulator> {
  const emulator = await startEmulator({ s2s });
  started.push(emulator);
  return emulator;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a refusal');
}

const authCertificate = createTestAuthority().clientCertificate();
const authOptions = (extra: Record<string, unknown>) => ({ cert: authCertificate.cert, key: authCertificate.key, sandboxId: 'RETAIL', ...extra }) as XboxServiceAuthOptions;

/** Whether xboxServiceAuth refuses `sandboxId` (and for that reason, not another). */
function clientRefusesSandbox(sandboxId: unknown): boolean {
  try {
    xboxServiceAuth(authOptions({ sandboxId }));
    return false;
  } catch (error) {
    expect((error as MpaValidationError).issues.map((i) => i.path)).toEqual([['sandboxId']]);
    return true;
  }
}

describe('startEmulator checks its s2s options before anything listens', () => {
  it('refuses a misspelt s2s option, naming it, before listening', async () => {
    const error = await s2sRefusal({ sandbox: 'XDKS.1' });
    expect(error.code).toBe('VALIDATION');
    expect(error.issues).toEqual([{ path: ['s2s', 'sandbox'], message: 'unknown key (a typo?)' }]);
    expect(error.message).toContain('s2s.sandbox: unknown key (a typo?)');
  });

  it('refuses a token lifetime that is not an integer from 1 ms to 2^31-1 ms, naming it, before listening', async () => {
    for (const [key, value] of [
      ['sTokenLifetimeMs', 0],
      ['xstsLifetimeMs', -5],
      ['sTokenLifetimeMs', 'abc'],
      ['xstsLifetimeMs', 1e15],
      ['xstsLifetimeMs', 2 ** 31],
      ['sTokenLifetimeMs', 1.5],
      ['sTokenLifetimeMs', Number.NaN],
    ] as const) {
      const error = await s2sRefusal({ [key]: value });
      expect(error.issues.map((i) => i.path), `${key}: ${String(value)}`).toEqual([['s2s', key]]);
      expect(error.message).toContain(`s2s.${key}: ${key} must`);
    }
    // The limits themselves are usable, and the tokens say so.
    const emulator = await startsWith({ sTokenLifetimeMs: 2 ** 31 - 1, xstsLifetimeMs: 1 });
    expect(emulator.s2s?.sandboxId).toBe('RETAIL');
  });

  it('accepts exactly the sandbox ids xboxServiceAuth accepts, refusing the others as s2s.sandboxId before listening', async () => {
    for (const sandboxId of ['RETAIL', 'XDKS.1', 'my_sand-box.2', 'a b', '', 'XDKS/1', 'RETAIL\n', 'ÉTÉ', 42]) {
      const clientRefuses = clientRefusesSandbox(sandboxId);
      if (clientRefuses) {
        const error = await s2sRefusal({ sandboxId });
        expect(error.issues.map((i) => i.path), JSON.stringify(sandboxId)).toEqual([['s2s', 'sandboxId']]);
      } else {
        const emulator = await startsWith({ sandboxId: sandboxId as string });
        expect(emulator.s2s?.sandboxId).toBe(sandboxId);
      }
    }
    expect((await s2sRefusal({ sandboxId: 'a b' })).message).toMatch(/s2s\.sandboxId: sandboxId must look like RETAIL or XDKS\.1/);
  });

  it('refuses an s2s that is neither a boolean nor an object, naming s2s', async () => {
    const error = await s2sRefusal('yes');
    expect(error.issues.map((i) => i.path)).toEqual([['s2s']]);
  });
});

describe('publishRoomActivity refuses unknown options', () => {
  it('refuses misspelt options (platfrom, whenlocked), naming each, and creates no group', async () => {
    const core = new EmulatorCore();
    const sync = new ActivitySync({ client: new MpaClient({ titleId: 1, baseUrl: 'http://127.0.0.1:9', authorization: () => 'XBL3.0 x=1;t', fetch: inProcessFetch(core) }) });
    syncs.push(sync);
    const room = new (class extends Room {})();
    room.maxClients = 4;
    room.roomId = 'arena-1';
    const options = { sync, connectionString: 'c', xuid: () => undefined, platfrom: 'Win32', whenlocked: 'Public' };
    const error = thrown(() => publishRoomActivity(room, options as RoomActivityOptions)) as ServerError & { cause: MpaValidationError };
    // As every bad option of this call: a Colyseus ServerError carrying the validation error.
    expect(error).toBeInstanceOf(ServerError);
    expect(error.cause).toBeInstanceOf(MpaValidationError);
    expect(error.cause.issues).toEqual([
      { path: ['platfrom'], message: 'unknown key (a typo?)' },
      { path: ['whenlocked'], message: 'unknown key (a typo?)' },
    ]);
    expect(error.message).toContain('platfrom: unknown key (a typo?)');
    expect(sync.getGroup(room.roomId)).toBeUndefined();
  });
});

describe('xboxServiceAuth refuses unknown options', () => {
  it('refuses a misspelt option (relyingparty), naming it', () => {
    const error = thrown(() => xboxServiceAuth(authOptions({ relyingparty: 'http://example.com' }))) as MpaValidationError;
    expect(error).toBeInstanceOf(MpaValidationError);
    expect(error.issues).toEqual([{ path: ['relyingparty'], message: 'unknown key (a typo?)' }]);
    // The correctly spelt options are still accepted.
    expect(xboxServiceAuth(authOptions({ relyingParty: 'http://example.com' })).sandboxId).toBe('RETAIL');
  });
});

describe('inProcessFetch checks its arguments when called, not at the first request', () => {
  it('refuses a misspelt option (maxBody), naming it', () => {
    const error = thrown(() => inProcessFetch(new EmulatorCore(), { maxBody: 5 } as { maxBodyBytes?: number })) as MpaValidationError;
    expect(error).toBeInstanceOf(MpaValidationError);
    expect(error.issues).toEqual([{ path: ['maxBody'], message: 'unknown key (a typo?)' }]);
  });

  it('names itself, not the emulator, when its body limit is out of range', () => {
    const error = thrown(() => inProcessFetch(new EmulatorCore(), { maxBodyBytes: -1 })) as MpaValidationError;
    expect(error).toBeInstanceOf(MpaValidationError);
    expect(error.message).toMatch(/^invalid inProcessFetch options: maxBodyBytes/);
  });

  it('refuses to be called without an EmulatorCore, with a usage error saying what it needs', () => {
    for (const core of [undefined, null, {}, { maxBodyBytes: 5 }]) {
      const error = thrown(() => inProcessFetch(core as unknown as EmulatorCore)) as MpaUsageError;
      expect(error).toBeInstanceOf(MpaUsageError);
      expect(error.code).toBe('USAGE');
      expect(error.message).toMatch(/inProcessFetch: the first argument must be an EmulatorCore/);
    }
  });
});

describe('a bad emulator option beside s2s', () => {
  it('is refused before the token endpoints start, so nothing is left listening', async () => {
    const before = listening();
    await expect(startEmulator({ s2s: true, latencyMs: -1 })).rejects.toBeInstanceOf(MpaValidationError);
    expect(listening()).toBe(before);
  });
});

describe("the emulator's s2s credentials", () => {
  it('go to xboxServiceAuth as they are (its unknown-key check must not refuse them), and calls then succeed', async () => {
    const emulator = await startEmulator({ port: 0, s2s: true });
    started.push(emulator);
    const auth = xboxServiceAuth(emulator.s2s!);
    const client = new MpaClient({ titleId: 1234567890, baseUrl: emulator.url, authorization: auth });
    await expect(client.getActivity('2533274800000001')).resolves.toBeNull();
    expect(emulator.s2s!.issued).toEqual({ serviceTokens: 1, xstsTokens: 1 }); // still readable
  });
});
