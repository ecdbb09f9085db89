/**
 * The emulator on a real socket (node:http), plus an in-process `fetch` for tests that want
 * no sockets at all. Both serve the same {@link EmulatorCore}.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { EmulatorCore, type CoreResponse, type EmulatorOptions, type FaultKind, type StoredActivity } from './core.js';
import { inspectionListener, inspectionServed } from './inspection-http.js';
import { startS2sService, type S2sCredentials, type S2sOptions } from './s2s.js';

/** Options of {@link startEmulator}. */
export interface StartEmulatorOptions extends EmulatorOptions {
  /** Port to listen on. Default 0 (any free port). */
  port?: number;
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /**
   * The live page at `/` and the JSON routes under `/_emulator/`: served on a loopback host by
   * default; `true` also serves them on any other interface, `false` nowhere (they answer 404).
   */
  ui?: boolean;
  /**
   * Server-to-server authentication as the real service has it: token endpoints over HTTPS
   * with mutual TLS, and every call must carry a live XSTS token and a valid Signature.
   * Default off (any well-formed `XBL3.0` header is accepted).
   */
  s2s?: boolean | S2sOptions;
}

/**
 * A running emulator.
 *
 * @example
 * const emulator = await startEmulator({ port: 0 });
 * const client = new MpaClient({ titleId: 1, baseUrl: emulator.url, authorization: () => 'XBL3.0 x=1;t' });
 * emulator.activity('2533274800000001'); // what the "service" holds
 * await emulator.close();
 */
export interface Emulator {
  /** Base URL to give the client, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** The live page (`url` + `/`), or `undefined` when it is not served (see `ui`). */
  readonly pageUrl: string | undefined;
  readonly port: number;
  /** The service logic and its inspection API (log, counters, invites, recentPlayerGroups). */
  readonly core: EmulatorCore;
  /** A fetch that calls the emulator in-process, without a socket: for fake-timer tests and benchmarks. */
  readonly fetch: typeof fetch;
  /** Live activities. */
  activities(): StoredActivity[];
  /** One user's live activity. */
  activity(xuid: string, titleId?: number): StoredActivity | undefined;
  /** Fail the next `count` requests with `kind`. */
  failNext(kind: FaultKind, count?: number, retryAfterSeconds?: number): void;
  /** Forget all state, logs and counters. */
  reset(): void;
  /** Stop listening and drop every open connection (hung ones included). */
  close(): Promise<void>;
  /** With `s2s`: the certificate, key, CA and token endpoint URLs to give `xboxServiceAuth`. */
  readonly s2s?: S2sCredentials | undefined;
}

/** Starts the emulator on `host:port` (default 127.0.0.1, any free port). */
export async function startEmulator(options: StartEmulatorOptions = {}): Promise<Emulator> {
  const s2s = options.s2s ? await startS2sService(options.s2s === true ? {} : options.s2s, () => (options.now ?? Date.now)(), options.host ?? '127.0.0.1') : undefined;
  const core = new EmulatorCore(s2s ? { ...options, authorize: (request) => s2s.authorize(request) } : options);
  const sockets = new Set<Socket>();
  const inspection = inspectionListener(core, { ui: options.ui, host: options.host ?? '127.0.0.1' });
  const server: Server = createServer((req, res) => inspection(req, res) || void serveHttp(core, req, res));
  // The token endpoints live and die with the emulator (s2s.close() never rejects).
  if (s2s) server.once('close', () => void s2s.close());
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  }).catch(async (error: unknown) => {
    await s2s?.close(); // do not leave the token endpoints listening when the main port fails
    throw error;
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    pageUrl: inspectionServed({ ui: options.ui, host: options.host ?? '127.0.0.1' }) ? `http://${host}:${address.port}/` : undefined,
    port: address.port,
    core,
    fetch: inProcessFetch(core),
    activities: () => core.activities(),
    activity: (xuid, titleId) => core.activity(xuid, titleId),
    failNext: (kind, count, retryAfterSeconds) => core.failNext(kind, count, retryAfterSeconds),
    reset: () => core.reset(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
    s2s: s2s?.credentials,
  };
}

async function serveHttp(core: EmulatorCore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  const aborted = new AbortController();
  res.on('close', () => aborted.abort());
  const response = await core.handle({ method: req.method ?? 'GET', path: req.url ?? '/', headers, body: Buffer.concat(chunks).toString('utf8'), signal: aborted.signal });
  if (response.kind === 'reset') {
    req.socket.destroy();
    return;
  }
  if (response.kind === 'hang') return;
  res.writeHead(response.status, response.headers);
  res.end(response.body);
}

/** A `fetch` answering from the core in-process: same behaviour, no socket, no real time. */
export function inProcessFetch(core: EmulatorCore): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => (headers[name] = value));
    const signal = init?.signal ?? undefined;
    const work = core.handle({ method: request.method, path: url.pathname + url.search, headers, body: await request.text(), signal });
    const response: CoreResponse = await abortable(work, signal);
    if (response.kind === 'reset') throw new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
    if (response.kind === 'hang') return abortable(new Promise<never>(() => {}), signal);
    return new Response(response.status === 204 ? null : response.body, { status: response.status, headers: response.headers });
  };
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined | null): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
