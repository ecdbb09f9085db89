/**
 * A misspelt or malformed option is refused where it is given, with an MpaValidationError whose
 * issue names it, instead of being dropped (its default used without a word) or failing later
 * with a raw TypeError from deep inside.
 */
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivitySync, bindMatchmaker, MpaClient, MpaUsageError, MpaValidationError, xboxSequenceNumber } from '../src/index.js';
import { parseRetryAfter } from '../src/retry-after.js';
import { seededRandom } from '../src/random.js';
import { SequenceStamper } from '../src/sequence.js';
import { EmulatorCore, startEmulator } from '../src/emulator/index.js';
import { instrumentSync } from '../src/otel/index.js';
import { createTestKit, type TestKit } from '../src/testing/index.js';

const client = new MpaClient({ titleId: 1234567890, baseUrl: 'http://127.0.0.1:9', authorization: () => 'XBL3.0 x=1;t' });

async function refusal(run: () => unknown): Promise<MpaValidationError> {
  let error: unknown;
  try {
    await run();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(MpaValidationError);
  expect((error as MpaValidationError).code).toBe('VALIDATION');
  return error as MpaValidationError;
}

const paths = (error: MpaValidationError) => error.issues.map((issue) => issue.path.join('.'));

let kit: TestKit | undefined;
let sync: ActivitySync | undefined;
afterEach(async () => {
  await kit?.dispose();
  kit = undefined;
  await sync?.close({ timeoutMs: 0 });
  sync = undefined;
});

describe('unknown keys are named, not dropped', () => {
  it.each([
    ['MpaClient', () => new MpaClient({ titleId: 1, authorization: () => 'x', timeout: 100 } as never), ['timeout']],
    ['ActivitySync', () => new ActivitySync({ client, concurency: 3 } as never), ['concurency']],
    ['ActivitySync backoff', () => new ActivitySync({ client, backoff: { base: 5 } } as never), ['backoff.base']],
    ['startEmulator', () => startEmulator({ prot: 1 } as never), ['prot']],
    ['EmulatorCore', () => new EmulatorCore({ ratelimits: false } as never), ['ratelimits']],
    ['EmulatorCore faults', () => new EmulatorCore({ faults: { rate: { '500': 0.1 } } } as never), ['faults.rate']],
    ['createTestKit', () => createTestKit({ emulater: {} } as never), ['emulater']],
    ['createTestKit emulator options', () => createTestKit({ emulator: { ratelimits: false } } as never), ['emulator.ratelimits']],
  ])('%s', async (_name, run, named) => {
    expect(paths(await refusal(run))).toEqual(named);
  });

  it('instrumentSync', async () => {
    sync = new ActivitySync({ client });
    expect(paths(await refusal(() => instrumentSync(sync!, { metre: {} } as never)))).toEqual(['metre']);
  });

  it('flush() and close() options', async () => {
    sync = new ActivitySync({ client });
    expect(paths(await refusal(() => sync!.flush({ timeout: 5 } as never)))).toEqual(['timeout']);
    expect(paths(await refusal(() => sync!.close({ timeout: 5 } as never)))).toEqual(['timeout']);
  });
});

describe('malformed arguments are refused before anything starts', () => {
  it('startEmulator with a port out of range', async () => {
    expect(paths(await refusal(() => startEmulator({ port: -1 })))).toEqual(['port']);
  });

  it.each([
    ['a negative latency', { latencyMs: -1 }, 'latencyMs', /must not be negative/],
    ['a latency past 2^31-1 ms (Node would fire it at once)', { latencyMs: 2 ** 31 }, 'latencyMs', /at most 2147483647/],
    ['an expiry given as a string', { expiryMs: '86400000' }, 'expiryMs', /number of milliseconds/],
    ['an expiry of 0', { expiryMs: 0 }, 'expiryMs', /at least 1/],
    ['a stale-sequence policy that does not exist', { staleSequence: 'drop' }, 'staleSequence', /'reject' or 'ignore'/],
    ['a clock that is a number', { now: 5 }, 'now', /must be a function/],
    ['tokens as one string (it would become a set of its letters)', { tokens: 'XBL3.0 x=1;t' }, 'tokens', /array/],
    ['a title id of 0', { titleIds: [0] }, 'titleIds.0', /1/],
    ['rate limits of true', { rateLimits: true }, 'rateLimits', /false or overrides/],
    ['a write burst of 0', { rateLimits: { write: { burst: 0 } } }, 'rateLimits.write.burst', /0/],
    ['a fault kind that does not exist', { faults: { rates: { '418': 0.1 } } }, 'faults.rates.418', /unknown key/],
    ['fault rates adding up to more than 1', { faults: { rates: { '500': 0.7, '503': 0.5 } } }, 'faults.rates', /more than 1/],
    ['a fault method in lower case (no request would match it)', { faults: { methods: ['put'] } }, 'faults.methods.0', /capitals/],
    ['a log size below 0', { logSize: -1 }, 'logSize', /0/],
  ])('EmulatorCore and startEmulator refuse %s, naming the option', async (_name, options, path, message) => {
    const direct = await refusal(() => new EmulatorCore(options as never));
    expect(paths(direct)).toEqual([path]);
    expect(direct.issues[0]!.message).toMatch(message);
    // startEmulator refuses it before listening (nothing to close).
    expect(paths(await refusal(() => startEmulator(options as never)))).toEqual([path]);
  });

  it('EmulatorCore takes every option at once when each is well-formed', async () => {
    const core = new EmulatorCore({ tokens: ['XBL3.0 x=1;t'], titleIds: [1], staleSequence: 'ignore', rateLimits: { write: { burst: 2 } }, expiryMs: 7 * 86_400_000, faults: { seed: 3, rates: { '500': 0.5, '503': 0.5 }, retryAfterSeconds: 2, methods: ['PUT'] }, latencyMs: 0, now: () => 1_700_000_000_000, logSize: 5 });
    const answer = await core.handle({ method: 'GET', path: '/titles/1/users/2533274800000001/activities', headers: { authorization: 'XBL3.0 x=1;t' }, body: '' });
    expect(answer).toMatchObject({ kind: 'answer', status: 204 }); // GET is not subject to the PUT-only faults
  });

  it.each([
    ['an emulator latency below 0 (the kit takes latencyMs out before the core sees it)', { emulator: { latencyMs: -1 } }, ['emulator.latencyMs']],
    ['an emulator latency past 2^31-1 ms', { emulator: { latencyMs: 1e12 } }, ['emulator.latencyMs']],
    ['a start time that is no time', { now: new Date('x') }, ['now']],
    ['a start time given as a string', { now: 'yesterday' }, ['now']],
    ['a clock without tickAsync', { clock: {} }, ['clock']],
    ['a sync client (the kit makes it) and a sync clock (the kit drives the engine)', { sync: { client, clock: {} } }, ['sync.client', 'sync.clock']],
  ])('createTestKit refuses %s, naming it', async (_name, options, named) => {
    expect(paths(await refusal(() => createTestKit(options as never)))).toEqual(named);
  });

  it('kit.settle with a negative or non-numeric bound', async () => {
    kit = await createTestKit();
    expect(paths(await refusal(() => kit!.settle(-1)))).toEqual(['maxMs']);
    expect(paths(await refusal(() => kit!.settle('1000' as never)))).toEqual(['maxMs']);
    await kit.settle(); // the default still works
  });

  it('kit.advance with a negative or non-numeric duration', async () => {
    kit = await createTestKit();
    expect(paths(await refusal(() => kit!.advance(-1)))).toEqual(['ms']);
    expect(paths(await refusal(() => kit!.advance('1000' as never)))).toEqual(['ms']);
    await kit.advance(1000); // a good one still works
  });

  it('instrumentSync with a meter that is not a Meter', async () => {
    kit = await createTestKit();
    expect(paths(await refusal(() => instrumentSync(kit!.sync, { meter: 5 as never, attributes: 'x' as never })))).toEqual(['meter', 'attributes']);
  });

  it('bindMatchmaker with a mapper that is not a function and a misspelt event name', async () => {
    sync = new ActivitySync({ client });
    const source = new EventEmitter();
    const error = await refusal(() => bindMatchmaker(sync!, source, { toGroup: 5, events: { playerJoind: 'x' } } as never));
    expect(paths(error)).toEqual(['toGroup', 'events.playerJoind']);
    expect(source.eventNames()).toEqual([]); // nothing was bound
  });

  it('bindMatchmaker with no event source is a usage error, not a TypeError', () => {
    sync = new ActivitySync({ client });
    expect(() => bindMatchmaker(sync!, null as never)).toThrow(MpaUsageError);
  });

  it('bindMatchmaker with something other than an ActivitySync first (or the arguments swapped) is a usage error at bind time', () => {
    sync = new ActivitySync({ client });
    const source = new EventEmitter();
    expect(() => bindMatchmaker({} as never, source)).toThrow(MpaUsageError);
    expect(() => bindMatchmaker(undefined as never, source)).toThrow(MpaUsageError);
    expect(() => bindMatchmaker(source as never, sync as never)).toThrow(/first argument must be an ActivitySync/);
    expect(source.eventNames()).toEqual([]); // nothing was bound, so no event can throw into the matchmaker
  });

  it('bindMatchmaker with an onMatchStarted update that no match would accept, refused at bind time', async () => {
    sync = new ActivitySync({ client });
    const source = new EventEmitter();
    expect(paths(await refusal(() => bindMatchmaker(sync!, source, { onMatchStarted: { joinrestriction: 'InviteOnly' } } as never)))).toEqual(['onMatchStarted.joinrestriction']);
    expect(paths(await refusal(() => bindMatchmaker(sync!, source, { onMatchStarted: { joinRestriction: 'Closed' } } as never)))).toEqual(['onMatchStarted.joinRestriction']);
    expect(source.eventNames()).toEqual([]);
    bindMatchmaker(sync, source, { onMatchStarted: { joinRestriction: 'InviteOnly' } })(); // a good one binds
  });
});

describe('the exported helpers refuse a caller\'s mistake, naming it, instead of a raw TypeError or a wrong value', () => {
  it.each([
    ['parseRetryAfter with a number for the header', () => parseRetryAfter(5 as never, { now: 0 }), ['header']],
    ['parseRetryAfter without options', () => parseRetryAfter('5', undefined as never), ['options']],
    ['parseRetryAfter with a negative cap (it gave a negative delay)', () => parseRetryAfter('5', { now: 0, capMs: -5 }), ['options.capMs']],
    ['parseRetryAfter with a misspelt cap', () => parseRetryAfter('5', { now: 0, cap: 1 } as never), ['options.cap']],
    ['parseRetryAfter with no now', () => parseRetryAfter('5', {} as never), ['options.now']],
    ['seededRandom with NaN (every such seed gave the same sequence)', () => seededRandom(Number.NaN), ['seed']],
    ['seededRandom with a string', () => seededRandom('x' as never), ['seed']],
    ['new SequenceStamper without its functions', () => new SequenceStamper(5 as never, undefined as never), ['source', 'now']],
  ])('%s', async (_name, run, named) => {
    expect(paths(await refusal(run))).toEqual(named);
  });

  it('the same helpers still answer well-formed calls', () => {
    expect(parseRetryAfter('5', { now: 0 })).toBe(5000);
    expect(parseRetryAfter('garbage', { now: 0 })).toBeUndefined(); // what the header says is never an error
    expect(parseRetryAfter(null, { now: 0, capMs: 1000 })).toBeUndefined();
    expect(seededRandom(42)()).toBe(seededRandom(42)());
    expect(new SequenceStamper(xboxSequenceNumber, () => 1_700_000_000_000).stamp('1', 1_700_000_000_000)).toBe(xboxSequenceNumber(1_700_000_000_000));
  });
});
