/**
 * Puts the live page and the JSON inspection routes on the emulator's HTTP server, and decides
 * who may see them: on a loopback address by default; when the emulator is bound elsewhere,
 * only if the studio asked (`ui: true`, `--ui`), since activities are user data and the fault
 * routes change the emulator's behaviour for everyone.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatorCore } from './core.js';
import type { S2sCredentials } from './s2s.js';
import { EmulatorInspection } from './inspection.js';
import { PAGE_CSS, PAGE_HTML, PAGE_SCRIPT } from './ui-page.js';

/** Whether a host name or address is this machine's loopback (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^(::ffff:)?127(\.\d{1,3}){3}$/.test(bare);
}

/** How the page and routes are exposed. */
export interface InspectionExposure {
  /** The `ui` option: `true` serves them on any interface, `false` nowhere, `undefined` on loopback only. */
  ui: boolean | undefined;
  /** The interface the emulator listens on. */
  host: string;
}

/** Whether the page and inspection routes are served at all, for these options. */
export function inspectionServed({ ui, host }: InspectionExposure): boolean {
  return ui ?? isLoopbackHost(host);
}

const STATIC: Record<string, { type: string; body: string }> = {
  '/': { type: 'text/html; charset=utf-8', body: PAGE_HTML },
  '/_emulator/ui.js': { type: 'text/javascript; charset=utf-8', body: PAGE_SCRIPT },
  '/_emulator/ui.css': { type: 'text/css; charset=utf-8', body: PAGE_CSS },
};

// The page may load only its own script and style and talk only to its own origin: even a
// value that slipped past escaping could not run or load anything.
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const MAX_BODY_BYTES = 4096;

/**
 * A request listener for the page and inspection routes. Returns `true` when it took the
 * request (it always answers it), `false` to leave it to the emulated service, which answers
 * 404 for what it does not know: that is what a caller sees when the routes are not exposed.
 * `s2s`: the token endpoints to report on `GET /_emulator/s2s`, when S2S is on.
 */
export function inspectionListener(core: EmulatorCore, exposure: InspectionExposure, s2s?: S2sCredentials): (req: IncomingMessage, res: ServerResponse) => boolean {
  const served = inspectionServed(exposure);
  const inspection = new EmulatorInspection(core, s2s);
  return (req, res) => {
    if (!served) return false;
    const url = req.url ?? '/';
    // The service's own routes (every request of a load test) leave here without allocating,
    // most at their second character: only `/`, `/?...` and `/_emulator...` are for us.
    const second = url.charCodeAt(1);
    if (url.length > 1 && second !== 63 && second !== 95) return false;
    if (url !== '/' && !url.startsWith('/?') && !url.startsWith('/_emulator')) return false;
    const path = url.split('?')[0]!;
    const method = req.method ?? 'GET';
    const page = STATIC[path];
    if (!page && !inspectionRoute(path)) return false;
    // On loopback without an explicit `ui: true`, a browser tab on another site must not read
    // or drive the emulator: answer only requests addressed to a loopback name (DNS
    // rebinding), and no cross-origin writes.
    if (exposure.ui !== true && !isLoopbackHost(hostName(req.headers.host ?? ''))) return false;
    if (page) {
      if (method !== 'GET' && method !== 'HEAD') {
        sendJson(res, 405, { errorCode: 'MethodNotAllowed', debugMessage: `${method} is not allowed on ${path}` });
        return true;
      }
      res.writeHead(200, { 'content-type': page.type, ...PAGE_HEADERS });
      res.end(method === 'HEAD' ? undefined : page.body);
      return true;
    }
    if (method === 'POST') {
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== 'null' && safeHost(origin) !== (req.headers.host ?? '').toLowerCase()) {
        sendJson(res, 403, { errorCode: 'Forbidden', debugMessage: 'cross-origin requests may not inject faults' });
        return true;
      }
      if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
        sendJson(res, 415, { errorCode: 'UnsupportedMediaType', debugMessage: 'send Content-Type: application/json' });
        return true;
      }
    }
    answerJson(inspection, req, res, method, url, path).catch((error: unknown) => {
      // The client went away mid-body, or building the answer failed: answer if we still can.
      if (res.headersSent || res.destroyed) res.destroy();
      else sendJson(res, 500, { errorCode: 'InternalServerError', debugMessage: error instanceof Error ? error.message : 'inspection failed' });
    });
    return true;
  };
}

async function answerJson(inspection: EmulatorInspection, req: IncomingMessage, res: ServerResponse, method: string, url: string, path: string): Promise<void> {
  const body = await readSmallBody(req, method === 'POST' ? MAX_BODY_BYTES : 0);
  if (body === undefined) return sendJson(res, 413, { errorCode: 'PayloadTooLarge', debugMessage: `body over ${MAX_BODY_BYTES} bytes` });
  const answer = inspection.answer(method, url, body) ?? { status: 404, body: { errorCode: 'NotFound', debugMessage: `no route for ${method} ${path}` } };
  sendJson(res, answer.status, answer.body, method === 'HEAD');
}

function inspectionRoute(path: string): boolean {
  const p = path.replace(/\/+$/, '');
  return p === '/_emulator' || p === '/_emulator/activities' || p.startsWith('/_emulator/activities/') || p === '/_emulator/requests' || p === '/_emulator/budgets' || p === '/_emulator/faults' || p === '/_emulator/s2s';
}

function hostName(hostHeader: string): string {
  const m = /^(\[[^\]]*\]|[^:]*)/.exec(hostHeader.trim());
  return m ? m[1]! : '';
}

function safeHost(origin: string): string | undefined {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return undefined;
  }
}

/** Reads a body of at most `cap` bytes; `undefined` past the cap (the rest is not buffered). */
async function readSmallBody(req: IncomingMessage, cap: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  // destroyOnReturn false: leaving the loop early must not destroy the socket we answer on.
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    size += (chunk as Buffer).length;
    if (size > cap) {
      if (cap === 0) continue; // a body on a GET is ignored, not refused
      req.resume();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown, head = false): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-length': Buffer.byteLength(text) });
  res.end(head ? undefined : text);
}
