/**
 * The emulator on a real socket (node:http), plus an in-process `fetch` for tests that want
 * no sockets at all. Both serve the same {@link EmulatorCore}.
 */
import { setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { checkEmulatorOptions, EMULATOR_OPTION_KEYS, EmulatorCore, type CoreResponse, type EmulatorOptions, type FaultKind, type StoredActivity } from './core.js';
import { inspectionListener, inspectionServed } from './inspection-http.js';
import { startS2sService, type S2sCredentials, type S2sOptions } from './s2s.js';
import { raceSignal } from '../race-signal.js';
import { readBodyThen, TOO_LARGE, type BodyRead } from './body-reader.js';
import { integerOption } from './option-checks.js';
import { listenHost } from './listen-host.js';
import { knownKeysOnly, MAX_TIMER_MS } from '../schemas.js';
import { MpaUsageError } from '../errors.js';

/** Options of {@link startEmulator}. */
export interface StartEmulatorOptions extends EmulatorOptions {
  /** Port to listen on. Default 0 (any free port). */
  port?: number;
  /**
   * Interface to listen on. Default `127.0.0.1`. An empty one is refused (`MpaUsageError`):
   * every interface must be asked for by name, `0.0.0.0` or `::`.
   */
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
  /**
   * Largest request body, in bytes. Past it the answer is 413 `RequestEntityTooLarge` and
   * nothing more of the body is kept: up to 1 MiB more is read and dropped (so that a client
   * still sending sees the answer), then the connection is cut. Default 64 KiB, which holds
   * the largest valid body (20 recent-player groups of 100 players).
   */
  maxBodyBytes?: number;
  /** Time a client has to send the request line and headers, in ms; then 408. Default 10,000. */
  headersTimeoutMs?: number;
  /** Time a client has to send the whole request, body included, in ms; then 408. Default 30,000. */
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open, in ms. Default 5,000. */
  keepAliveTimeoutMs?: number;
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
  /**
   * Stop listening, drop every open connection (hung ones and half-sent bodies included) and
   * cancel pending `latencyMs` delays. Resolves promptly; calling it again is harmless.
   */
  close(): Promise<void>;
  /** With `s2s`: the certificate, key, CA and token endpoint URLs to give `xboxServiceAuth`. */
  readonly s2s?: S2sCredentials | undefined;
}

const START_OPTION_KEYS = [...EMULATOR_OPTION_KEYS, 'port', 'host', 'ui', 's2s', 'maxBodyBytes', 'headersTimeoutMs', 'requestTimeoutMs', 'keepAliveTimeoutMs'] as const satisfies readonly (keyof StartEmulatorOptions)[];
// Fails to compile when an option is added to StartEmulatorOptions but not to the list.
const EVERY_START_OPTION_LISTED: Exclude<keyof StartEmulatorOptions, (typeof START_OPTION_KEYS)[number]> extends never ? true : never = true;
void EVERY_START_OPTION_LISTED;

/** The emulator's own routes live under this prefix, apart from the service's. */
const HEALTH_PATH = '/_emulator/health';
const HEALTH_QUERY = `${HEALTH_PATH}?`;
const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
// How much more of an over-limit body is read (and dropped) after the 413, before the
// connection is cut: enough for the answer to reach a client that is still sending.
const LINGER_BYTES = 1024 * 1024;
// Node checks header and request timeouts on this interval (default 30 s, which would let a
// 10 s timeout run 40 s); one timer per server, stopped by close().
const TIMEOUT_CHECK_MS = 1000;
// One reason for every cancelled delay: abort() without one builds a DOMException each time.
const CLOSED = Object.freeze(new Error('the emulator was closed'));

interface Transport {
  readonly core: EmulatorCore;
  readonly maxBodyBytes: number;
  readonly closing: AbortSignal;
  readonly startedAt: number;
}

/** Starts the emulator on `host:port` (default 127.0.0.1, any free port). */
export async function startEmulator(options: StartEmulatorOptions = {}): Promise<Emulator> {
  knownKeysOnly('emulator options', options, START_OPTION_KEYS);
  // An empty host would listen on every interface: refused before anything starts.
  listenHost(options.host);
  const port = integerOption('port', options.port, 0, 0, 65_535);
  const maxBodyBytes = integerOption('maxBodyBytes', options.maxBodyBytes, DEFAULT_MAX_BODY_BYTES, 0, 2 ** 30);
  const headersTimeout = integerOption('headersTimeoutMs', options.headersTimeoutMs, 10_000, 1, MAX_TIMER_MS);
  const requestTimeout = integerOption('requestTimeoutMs', options.requestTimeoutMs, Math.max(30_000, headersTimeout), headersTimeout, MAX_TIMER_MS);
  const keepAliveTimeout = integerOption('keepAliveTimeoutMs', options.keepAliveTimeoutMs, 5000, 1, MAX_TIMER_MS);
  // The core takes its own options only (it refuses any other key, such as `port`). They are
  // checked before the token endpoints start, so that a bad one leaves nothing listening.
  const coreOptions: EmulatorOptions = {};
  for (const key of EMULATOR_OPTION_KEYS) if (key in options) (coreOptions as Record<string, unknown>)[key] = options[key];
  checkEmulatorOptions(coreOptions);
  const s2s = options.s2s ? await startS2sService(options.s2s === true ? {} : options.s2s, () => (options.now ?? Date.now)(), options.host ?? '127.0.0.1') : undefined;
  if (s2s) coreOptions.authorize = (request) => s2s.authorize(request);
  const core = new EmulatorCore(coreOptions);
  const closing = new AbortController();
  // Every delayed answer listens to this one signal: no "possible leak" warning past ten.
  setMaxListeners(0, closing.signal);
  const transport: Transport = { core, maxBodyBytes, closing: closing.signal, startedAt: Date.now() };
  const sockets = new Set<Socket>();
  const inspection = inspectionListener(core, { ui: options.ui, host: options.host ?? '127.0.0.1' }, s2s?.credentials);
  const server: Server = createServer(
    { headersTimeout, requestTimeout, keepAliveTimeout, connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_MS, headersTimeout) },
    (req, res) => {
      // serveHttp answers every error itself; this is the last line, so that nothing a
      // request does can become an uncaught exception or unhandled rejection in the host.
      try {
        if (inspection(req, res)) return;
        serveHttp(transport, req, res)?.then(undefined, (error: unknown) => answerInternalError(transport, req, res, error));
      } catch (error) {
        answerInternalError(transport, req, res, error);
      }
    },
  );
  // The token endpoints live and die with the emulator (s2s.close() never rejects).
  if (s2s) server.once('close', () => s2s.close().catch(() => undefined));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', answerClientError);
  // Node hands CONNECT to this event, not to the request handler: answer it like any other
  // method the API does not have, instead of dropping the connection.
  server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    socket.on('error', () => socket.destroy()); // node detached its own error handler
    endWithJson(socket, 405, 'Method Not Allowed', 'MethodNotAllowed', 'CONNECT is not allowed');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, options.host ?? '127.0.0.1', () => resolve());
  }).catch(async (error: unknown) => {
    await s2s?.close(); // do not leave the token endpoints listening when the main port fails
    // Every error mpa-sync throws is an MpaError: a port in use or not allowed is the caller's
    // setting, named with the system's code (EADDRINUSE, EACCES, EADDRNOTAVAIL).
    const code = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.name : 'error');
    throw new MpaUsageError(`startEmulator: cannot listen on ${options.host ?? '127.0.0.1'}:${port} (${code})`);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    pageUrl: inspectionServed({ ui: options.ui, host: options.host ?? '127.0.0.1' }) ? `http://${host}:${address.port}/` : undefined,
    port: address.port,
    core,
    fetch: inProcessFetch(core, { maxBodyBytes }),
    activities: () => core.activities(),
    activity: (xuid, titleId) => core.activity(xuid, titleId),
    failNext: (kind, count, retryAfterSeconds) => core.failNext(kind, count, retryAfterSeconds),
    reset: () => core.reset(),
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        closing.abort(CLOSED);
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      })),
    s2s: s2s?.credentials,
  };
}

/**
 * One request, start to answer. Every path ends in an answer or a dropped connection, and
 * every failure is caught here or in the caller's `.then(undefined, ...)`: none escapes as an
 * unhandled rejection.
 */
function serveHttp(transport: Transport, req: IncomingMessage, res: ServerResponse): Promise<void> | undefined {
  const method = req.method ?? 'GET';
  const path = req.url ?? '/';
  if (path === HEALTH_PATH || path.startsWith(HEALTH_QUERY)) return answerHealth(transport, res, path.endsWith('?gc=1'));
  // GET and HEAD carry no body in this API: node discards one if a client sends it anyway.
  if (method === 'GET' || method === 'HEAD' || (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined)) {
    return answerFromCore(transport, req, res, method, path, '');
  }
  // Called from the body's 'end' event, the callback catches everything itself.
  readBodyThen(req, transport.maxBodyBytes, (read) => {
    try {
      answerBody(transport, req, res, method, path, read)?.then(undefined, (error: unknown) => answerInternalError(transport, req, res, error));
    } catch (error) {
      answerInternalError(transport, req, res, error);
    }
  });
  return undefined;
}

function answerBody(transport: Transport, req: IncomingMessage, res: ServerResponse, method: string, path: string, read: BodyRead): Promise<void> | undefined {
  if (read !== TOO_LARGE) return answerFromCore(transport, req, res, method, path, read.toString('utf8'));
  const response = transport.core.refuse(method, path, 413, 'RequestEntityTooLarge', `the body exceeds ${transport.maxBodyBytes} bytes`);
  if (Number(req.headers['content-length']) > transport.maxBodyBytes + LINGER_BYTES) res.shouldKeepAlive = false;
  else discardRest(req, res);
  write(res, response);
  return undefined;
}

function answerFromCore(transport: Transport, req: IncomingMessage, res: ServerResponse, method: string, path: string, body: string): Promise<void> {
  // Node joins repeated headers into one string (set-cookie aside, which the emulator never
  // reads), so the parsed headers are passed as they are.
  const headers = req.headers as Record<string, string | undefined>;
  let pending: Promise<CoreResponse>;
  try {
    // Through `handle` every time: a test that replaces it sees every request.
    pending = transport.core.handle({ method, path, headers, body, signal: transport.closing });
  } catch (error) {
    pending = Promise.reject(error as Error);
  }
  return pending.then(
    (response) => deliver(transport, req, res, response),
    (error: unknown) => deliver(transport, req, res, transport.core.refuse(method, path, 500, 'InternalServerError', describe(error))),
  );
}

function deliver(transport: Transport, req: IncomingMessage, res: ServerResponse, response: CoreResponse): void {
  if (response.kind === 'reset') req.socket.destroy();
  else write(res, response); // 'hang': write() leaves it unanswered, as asked
}

/**
 * Drops the rest of an over-limit body, up to {@link LINGER_BYTES}, then the connection. A
 * client still uploading when the 413 is sent would otherwise get a TCP reset that can wipe
 * the 413 from its receive buffer before it reads it; a body much bigger than the limit is
 * cut off all the same, nothing of it is kept.
 */
function discardRest(req: IncomingMessage, res: ServerResponse): void {
  // Node destroys a `Connection: close` request's socket as soon as the answer is written;
  // keep it until the body is dropped, then end it gracefully as the client asked.
  const closeAfter = !res.shouldKeepAlive;
  res.shouldKeepAlive = true;
  let left = LINGER_BYTES;
  req.on('data', (chunk: Buffer) => {
    left -= chunk.length;
    if (left < 0) req.socket.destroy();
  });
  if (closeAfter) req.once('end', () => req.socket.end());
  req.resume();
}

function write(res: ServerResponse, response: CoreResponse): void {
  if (response.kind !== 'answer' || res.headersSent || res.destroyed) return;
  if (response.body === '') {
    // No Content-Length here: a 204 must not carry one, and node adds it to any other empty answer.
    res.writeHead(response.status, response.headers);
    res.end();
    return;
  }
  // The whole head at once, with its Content-Length: no chunked encoding for a known body.
  res.writeHead(response.status, { ...response.headers, 'content-length': String(Buffer.byteLength(response.body)) });
  res.end(response.body);
}

/**
 * `GET /_emulator/health`: the process's memory, for soak tests. With `?gc=1` in a process
 * started with `--expose-gc`, a full collection runs first, so the heap figure is steady.
 */
function answerHealth(transport: Transport, res: ServerResponse, collect: boolean): undefined {
  if (collect) (globalThis as { gc?: () => void }).gc?.();
  const body = JSON.stringify({ status: 'ok', uptimeMs: Date.now() - transport.startedAt, requests: transport.core.counters.requests, memory: process.memoryUsage() });
  write(res, { kind: 'answer', status: 200, headers: { 'content-type': 'application/json' }, body });
}

function answerInternalError(transport: Transport, req: IncomingMessage, res: ServerResponse, error: unknown): void {
  try {
    write(res, transport.core.refuse(req.method ?? 'GET', req.url ?? '/', 500, 'InternalServerError', describe(error)));
  } catch {
    req.socket.destroy();
  }
}

// Names the failure without echoing request data (headers can hold tokens).
function describe(error: unknown): string {
  return `the emulator failed to handle the request (${error instanceof Error ? error.name : typeof error})`;
}

const CLIENT_ERRORS: Record<string, [number, string, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'RequestHeaderFieldsTooLarge', 'the request headers are too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'RequestTimeout', 'the request was not received in time'],
};

/**
 * Malformed HTTP and timeouts, which node detects before any handler runs: the same JSON body
 * as every other refusal, then the connection closes. Not logged: there is no request to log.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (socket.writable && socket.bytesWritten === 0 && error.code !== 'ECONNRESET') {
    const [status, reason, errorCode, debugMessage] = CLIENT_ERRORS[error.code ?? ''] ?? [400, 'Bad Request', 'BadRequest', 'the request is not valid HTTP/1.1'];
    endWithJson(socket, status, reason, errorCode, debugMessage);
    return;
  }
  socket.destroy();
}

/** Writes a whole answer on a raw socket, then closes it once the bytes are out. */
function endWithJson(socket: Socket, status: number, reason: string, errorCode: string, debugMessage: string): void {
  const body = JSON.stringify({ errorCode, debugMessage });
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`, () => socket.destroy());
}

/**
 * A `fetch` answering from the core in-process: same behaviour, no socket, no real time. A
 * body past `maxBodyBytes` (default 64 KiB, as on the socket) is answered 413. Without a core
 * it throws {@link MpaUsageError}; an unknown option is a `VALIDATION` error naming it.
 */
export function inProcessFetch(core: EmulatorCore, options: { maxBodyBytes?: number } = {}): typeof fetch {
  // Checked here, not at the first call: a missing core would otherwise surface later as a
  // TypeError inside whatever client was given this fetch, far from the mistake.
  if (typeof (core as Partial<EmulatorCore> | undefined)?.handle !== 'function' || typeof core.refuse !== 'function') {
    throw new MpaUsageError('inProcessFetch: the first argument must be an EmulatorCore (inProcessFetch(new EmulatorCore(), options), or use emulator.fetch)');
  }
  // A misspelt option (`maxBody`) would otherwise be dropped and the 64 KiB default used.
  knownKeysOnly('inProcessFetch options', options, ['maxBodyBytes']);
  const maxBodyBytes = integerOption('maxBodyBytes', options.maxBodyBytes, DEFAULT_MAX_BODY_BYTES, 0, 2 ** 30, 'inProcessFetch options');
  // UTF-8 with a leading BOM dropped, as Request.text() decodes; one decoder serves every call.
  const utf8 = new TextDecoder();
  return async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const path = url.pathname + url.search;
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => (headers[name] = value));
    const signal = init?.signal ?? undefined;
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.byteLength > maxBodyBytes) {
      const refused = core.refuse(request.method, path, 413, 'RequestEntityTooLarge', `the body exceeds ${maxBodyBytes} bytes`);
      if (refused.kind === 'answer') return new Response(refused.body, { status: refused.status, headers: refused.headers });
    }
    const work = core.handle({ method: request.method, path, headers, body: utf8.decode(bytes), signal });
    const response: CoreResponse = await (signal ? raceSignal(work, signal) : work);
    if (response.kind === 'reset') throw new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
    if (response.kind === 'hang') return signal ? raceSignal(new Promise<never>(() => {}), signal) : new Promise<never>(() => {});
    return new Response(response.status === 204 ? null : response.body, { status: response.status, headers: response.headers });
  };
}
