/**
 * The load generator, in a process of its own so that it never shares a CPU or an event loop
 * with the server it measures. Two modes, each answering in JSON lines:
 * - `serve`: one request repeated for a while, once per line of stdin (`{ url, method,
 *   seconds, body?, driver, inFlight }` as JSON), one JSON line out per line in, until stdin
 *   ends: one process for a whole series of measurements. The driver is autocannon (`inFlight`
 *   connections), or node's own `fetch` with `inFlight` requests in flight, as a test's
 *   client sends them;
 * - `soak <baseUrl> <amount> <users> <first>`: autocannon sends `amount` requests cycling over
 *   `users` players (PUT, GET, query, invite, DELETE), 32 connections, and prints one line;
 *   request numbers (and so sequence numbers) start at `first`, so that a second soak
 *   continues the first.
 */
import autocannon from 'autocannon';

const HEADERS = { authorization: 'XBL3.0 x=1;bench', 'content-type': 'application/json' };
const [mode, url, a, b, , d] = process.argv.slice(2);

export interface FixedLoad {
  /** Answers received in the measured time. */
  requests: number;
  requestsPerSecond: number;
  p99LatencyMs: number;
  non2xx: number;
  errors: number;
}

export interface SoakLoad {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  byStatus: Record<string, number>;
  errors: number;
}

async function fixed({ url: target, method, seconds, body, driver, inFlight }: FixedRequest): Promise<FixedLoad> {
  if (driver === 'fetch') return fetchLoad(target, method, seconds, body, inFlight);
  const result = await autocannon({ url: target, method: method as 'GET', connections: inFlight, duration: seconds, headers: HEADERS, body });
  return { requests: result.requests.total, requestsPerSecond: result.requests.average, p99LatencyMs: result.latency.p99, non2xx: result.non2xx, errors: result.errors };
}

/** `inFlight` loops, each sending the request with `fetch` and reading the answer, then the next. */
async function fetchLoad(target: string, method: string, seconds: number, body: string | undefined, inFlight: number): Promise<FixedLoad> {
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < until) {
        const sent = performance.now();
        try {
          const response = await fetch(target, { method, headers: HEADERS, body });
          await response.arrayBuffer();
          if (response.status < 200 || response.status >= 300) non2xx++;
          latencies.push(performance.now() - sent);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { requests: latencies.length, requestsPerSecond: latencies.length / elapsed, p99LatencyMs: latencies[Math.floor(latencies.length * 0.99)] ?? 0, non2xx, errors };
}

async function soak(base: string, amount: number, users: number, first: number): Promise<SoakLoad> {
  let n = first;
  const xuid = (i: number) => String(2533274800000000n + BigInt(i % users));
  const started = performance.now();
  const result = await autocannon({
    url: base,
    connections: 32,
    amount,
    headers: HEADERS,
    requests: [
      {
        setupRequest: (request) => {
          // Fresh headers every time: autocannon writes the previous request's content-length
          // into a shared headers object, which would make a GET after a PUT claim a body.
          const withBody = { ...request, headers: { ...HEADERS } };
          const bodiless = { ...request, headers: { authorization: HEADERS.authorization }, body: undefined };
          const i = n++;
          // Rounds over every player: four of writes, three of reads, a query, an invite, a
          // leave. A round is far longer than the 32 requests in flight, so one player's
          // requests never overtake each other, and sequence numbers rise with i: all accepted.
          const user = xuid(i);
          const activity = `/titles/1234567890/users/${user}/activities`;
          switch (Math.floor(i / users) % 10) {
            case 0:
            case 1:
            case 2:
            case 3:
              return { ...withBody, method: 'PUT', path: activity, body: JSON.stringify({ connectionString: `10.0.0.${i % 250}:7777`, joinRestriction: 'Public', sequenceNumber: String(i + 1), currentPlayers: 1 + (i % 8), maxPlayers: 8, groupId: `m${i % 97}` }) };
            case 4:
            case 5:
            case 6:
              return { ...bodiless, method: 'GET', path: activity };
            case 7:
              return { ...withBody, method: 'POST', path: '/titles/1234567890/activities/query', body: JSON.stringify({ users: [user, xuid(i + 1), xuid(i + 2)] }) };
            case 8:
              return { ...withBody, method: 'POST', path: '/titles/1234567890/invites/server', body: JSON.stringify({ sender: user, invitedUsers: [xuid(i + 3)] }) };
            default:
              return { ...withBody, method: 'DELETE', path: activity, body: JSON.stringify({ sequenceNumber: String(i + 1) }) };
          }
        },
      },
    ],
  });
  const seconds = (performance.now() - started) / 1000;
  const byStatus: Record<string, number> = {};
  for (const [status, { count }] of Object.entries(result.statusCodeStats ?? {})) byStatus[status] = Number(count);
  const requests = Object.values(byStatus).reduce((sum, count) => sum + count, 0);
  return { requests, seconds, requestsPerSecond: requests / seconds, byStatus, errors: result.errors };
}

/** A measurement asked for on stdin in `serve` mode. */
export interface FixedRequest {
  url: string;
  method: string;
  seconds: number;
  body?: string | undefined;
  /** Who sends the requests: autocannon, or node's `fetch` as a test's client would. */
  driver: 'autocannon' | 'fetch';
  /** Connections (autocannon) or requests in flight at once (fetch). */
  inFlight: number;
}

async function serve(): Promise<void> {
  const { createInterface } = await import('node:readline');
  for await (const line of createInterface({ input: process.stdin })) {
    const asked = JSON.parse(line) as FixedRequest;
    process.stdout.write(`${JSON.stringify(await fixed(asked))}\n`);
  }
}

if (mode === 'serve') await serve();
else process.stdout.write(`${JSON.stringify(await soak(url!, Number(a), Number(b), Number(d ?? 0)))}\n`);
process.exit(0);
