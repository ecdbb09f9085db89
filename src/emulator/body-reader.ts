/**
 * Reads a request body up to a byte limit, for the emulator's HTTP transport. Never throws: a
 * body past the limit is a result, and a client that disconnects mid-body is simply not answered.
 */
import type { IncomingMessage } from 'node:http';

/** The body went past the limit; reading stopped there. */
export const TOO_LARGE = Symbol('too large');

/** What {@link readBodyThen} gives: the body's bytes, or {@link TOO_LARGE}. */
export type BodyRead = Buffer | typeof TOO_LARGE;

/**
 * Reads the body's bytes up to `maxBytes`, then calls `done` once, inside the request's own
 * `end` event (or at once with {@link TOO_LARGE} for a declared length past the limit, or as
 * soon as the bytes pass it). `done` must not throw. A request aborted before its end never
 * calls `done`: there is nobody to answer, and what was read goes with the request (node
 * emits no `error` on a request nobody listens to for one, so an abort cannot become an
 * uncaught exception).
 */
export function readBodyThen(req: IncomingMessage, maxBytes: number, done: (result: BodyRead) => void): void {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    done(TOO_LARGE);
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (size > maxBytes) {
      // Stop pulling bytes off the socket and stop keeping them; the transport answers 413
      // and drops or closes the rest ('end' may still come: it is ignored).
      req.pause();
      req.off('data', onData);
      chunks.length = 0;
      done(TOO_LARGE);
      return;
    }
    chunks.push(chunk);
  };
  // The listeners stay: the request is done with once answered.
  req.on('data', onData);
  req.on('end', () => {
    if (size <= maxBytes) done(Buffer.concat(chunks, size));
  });
}
