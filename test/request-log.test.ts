import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestLog } from '../src/emulator/request-log.js';
import type { LoggedRequest } from '../src/emulator/core.js';

const subjectOf = (_method: string, path: string) => /\/users\/([^/]+)\//.exec(path)?.[1];

describe('RequestLog', () => {
  it('keeps the last capacity requests oldest first, through many wraps, bodies of any size and script (a model check)', () => {
    // Paths and bodies of three bytes a character are written exactly into the room set aside.
    const threeBytes = (maxLength: number) => fc.string({ minLength: 1, maxLength, unit: fc.constantFrom('€', '中') });
    const request = fc.record({
      method: fc.constantFrom('GET', 'PUT', 'DELETE', 'POST', 'BREW'),
      path: fc.oneof(
        fc.constant('/titles/1/users/2533274800000001/activities'),
        fc.string({ minLength: 1, maxLength: 80, unit: 'grapheme' }).map((s) => `/${s}`),
        threeBytes(80),
      ),
      // No body, JSON, not JSON, bodies of 1 to 4 bytes a character (they fill the ring, which
      // wraps many times), and now and then one far bigger than the rest (the ring grows).
      body: fc.option(
        fc.oneof(
          fc.json({ maxDepth: 2 }),
          fc.string({ maxLength: 40, unit: 'grapheme' }),
          { arbitrary: fc.string({ minLength: 20, maxLength: 400, unit: fc.constantFrom('a', 'é', '€', '中', '😀') }), weight: 4 },
          { arbitrary: threeBytes(400), weight: 4 },
          fc.string({ minLength: 2000, maxLength: 5000 }),
        ),
        { nil: undefined },
      ),
      status: fc.constantFrom(200, 204, 400, 429),
      // The HTTP transport passes the bytes the body was decoded from; a direct caller does not.
      asBytes: fc.boolean(),
      // What only some requests have.
      extra: fc.option(fc.constantFrom({ fault: '500' as const }, { throttled: true, retryAfterSeconds: 3 }, { xuid: '9' }, { xuid: null }), { nil: undefined, freq: 3 }),
    });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(request, { minLength: 50, maxLength: 300 }), fc.integer({ min: 0, max: 299 }), (capacity, requests, readAt) => {
        // A ring of 16 bytes at first: it wraps and grows all the time.
        const log = new RequestLog(capacity, subjectOf, 16);
        const model: LoggedRequest[] = [];
        requests.forEach((r, i) => {
          log.add(1_700_000_000_000 + i, r.method, r.path, r.body, r.status, r.extra, r.asBytes && r.body !== undefined ? Buffer.from(r.body) : undefined);
          let body: unknown = r.body;
          if (r.body !== undefined) {
            try {
              body = JSON.parse(r.body);
            } catch {
              body = r.body;
            }
          }
          const xuid = r.extra && 'xuid' in r.extra ? (r.extra.xuid ?? undefined) : subjectOf(r.method, r.path);
          const entry: LoggedRequest = { time: 1_700_000_000_000 + i, method: r.method, path: r.path, xuid, status: r.status, body };
          if (r.extra && 'fault' in r.extra) entry.fault = r.extra.fault;
          if (r.extra && 'throttled' in r.extra) Object.assign(entry, { throttled: true, retryAfterSeconds: r.extra.retryAfterSeconds });
          model.push(entry);
          if (model.length > capacity) model.shift();
          // Reading in the middle builds entries; the next writes must not disturb them.
          if (i === readAt) expect(log.toArray()).toStrictEqual(model);
        });
        expect(log.toArray()).toStrictEqual(model);
        expect(log.length).toBe(model.length);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps the bytes a body arrived in: it reads back as their decoding, invalid UTF-8 included', () => {
    const log = new RequestLog(4, subjectOf, 16);
    const bytes = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xe2, 0x82, 0x22, 0x7d]); // {"a":"<bad><cut €>"}
    const text = bytes.toString('utf8');
    log.add(1, 'PUT', '/titles/1/users/2533274800000001/activities', text, 400, undefined, bytes);
    log.add(2, 'PUT', '/titles/1/users/2533274800000001/activities', '{"b":1}', 204, undefined, Buffer.from('{"b":1}'));
    expect(log.toArray().map((e) => e.body)).toEqual([JSON.parse(text), { b: 1 }]);
    expect((log.toArray()[0]!.body as { a: string }).a).toBe('\ufffd\ufffd');
  });

  it('an entry that exactly fills the room left, at the end of the ring or before the oldest entry, overwrites nothing', () => {
    // Tiny entries of three bytes a character in a ring of 16 bytes: exact fits happen often.
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 40 }), (capacity, lengths) => {
        const log = new RequestLog(capacity, subjectOf, 16);
        const paths = lengths.map((n, i) => (i % 2 ? '中' : '€').repeat(n));
        paths.forEach((path, i) => log.add(i, 'GET', path, undefined, 204, undefined));
        expect(log.toArray().map((e) => e.path)).toEqual(paths.slice(-capacity));
      }),
      { numRuns: 3000 },
    );
  });

  it('gives the same entry objects at every read, and new ones only for new requests', () => {
    const log = new RequestLog(2, subjectOf);
    log.add(1, 'PUT', '/titles/1/users/5/activities', '{"a":1}', 204, undefined);
    const [first] = log.toArray();
    expect(log.toArray()[0]).toBe(first);
    log.add(2, 'GET', '/titles/1/users/6/activities', undefined, 204, undefined);
    log.add(3, 'GET', '/titles/1/users/7/activities', undefined, 204, undefined);
    expect(log.toArray().map((e) => e.xuid)).toEqual(['6', '7']);
  });

  it('carries what only some requests have: a fault, a throttle with its Retry-After, a subject the path does not say', () => {
    const log = new RequestLog(10, subjectOf);
    log.add(1, 'PUT', '/titles/1/users/5/activities', undefined, 500, { fault: '500' });
    log.add(2, 'PUT', '/titles/1/users/5/activities', undefined, 429, { throttled: true, retryAfterSeconds: 7 });
    log.add(3, 'POST', '/titles/1/invites/server', '{"sender":"9"}', 204, { xuid: '9' });
    log.add(4, 'PUT', '/titles/1/users/5/activities', undefined, 413, { xuid: null });
    expect(log.toArray()).toEqual([
      { time: 1, method: 'PUT', path: '/titles/1/users/5/activities', xuid: '5', status: 500, body: undefined, fault: '500' },
      { time: 2, method: 'PUT', path: '/titles/1/users/5/activities', xuid: '5', status: 429, body: undefined, throttled: true, retryAfterSeconds: 7 },
      { time: 3, method: 'POST', path: '/titles/1/invites/server', xuid: '9', status: 204, body: { sender: '9' } },
      { time: 4, method: 'PUT', path: '/titles/1/users/5/activities', xuid: undefined, status: 413, body: undefined },
    ]);
  });

  it('a capacity of 0 keeps nothing; clear forgets everything; replace keeps the last capacity entries as given', () => {
    const none = new RequestLog(0, subjectOf);
    none.add(1, 'GET', '/x', undefined, 204, undefined);
    expect(none.toArray()).toEqual([]);
    const log = new RequestLog(2, subjectOf);
    log.add(1, 'GET', '/x', undefined, 204, undefined);
    log.clear();
    expect(log.toArray()).toEqual([]);
    const given = [1, 2, 3].map((time): LoggedRequest => ({ time, method: 'GET', path: '/y', xuid: 'u', status: 204, body: { n: time } }));
    log.replace(given);
    expect(log.toArray()).toEqual(given.slice(1));
    expect(log.toArray()[1]).toBe(given[2]);
    log.add(4, 'GET', '/z', undefined, 204, undefined);
    expect(log.toArray().map((e) => e.time)).toEqual([3, 4]);
  });
});
