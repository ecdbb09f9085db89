/**
 * Reads a request body up to a byte limit, for the emulator's HTTP transport. Never rejects:
 * a client that disconnects mid-body, or a body past the limit, is a result, not an exception.
 */
import type { IncomingMessage } from 'node:http';

/** The body went past the limit; reading stopped there. */
export const TOO_LARGE = Symbol('too large');

/** What {@link readBody} and {@link readBodyThen} give: the body, {@link TOO_LARGE}, or `undefined` if aborted. */
export type BodyRead = string | typeof TOO_LARGE | undefined;

/**
 * Resolves with the body as UTF-8, {@link TOO_LARGE} once it passes `maxBytes` (a declared
 * Content-Length past it is refused before reading), or `undefined` if the request was
 * aborted before its end.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<BodyRead> {
  return new Promise((resolve) => readBodyThen(req, maxBytes, resolve));
}

/**
 * {@link readBody} with a callback instead of a promise, for the emulator's hot path: `done`
 * runs once, inside the request's own `end` event (or at once, for a declared length past
 * the limit), so the answer is written without waiting for a microtask. `done` must not throw.
 */
export function readBodyThen(req: IncomingMessage, maxBytes: number, done: (result: BodyRead) => void): void {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    done(TOO_LARGE);
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let settled = false;
  const settle = (result: BodyRead) => {
    if (settled) return;
    settled = true;
    done(result);
  };
  const onData = (chunk: Buffer) => {
    if (settled) return;
    size += chunk.length;
    if (size > maxBytes) {
      // Stop pulling bytes off the socket and stop keeping them; the transport answers 413
      // and drops or closes the rest.
      req.pause();
      req.off('data', onData);
      settle(TOO_LARGE);
      return;
    }
    chunks.push(chunk);
  };
  // One chunk (every small body): no concat, no copy. The listeners stay (the request is
  // done with once answered): removing four of them per request costs more than the guard.
  const onEnd = () => settle(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8'));
  // 'close' before 'end' (or an 'error', such as `aborted`) means the client went away.
  const onClose = () => settle(undefined);
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('close', onClose);
  req.on('error', onClose);
}
