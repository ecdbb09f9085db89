/**
 * Reads a request body up to a byte limit, for the emulator's HTTP transport. Never rejects:
 * a client that disconnects mid-body, or a body past the limit, is a result, not an exception.
 */
import type { IncomingMessage } from 'node:http';

/** The body went past the limit; reading stopped there. */
export const TOO_LARGE = Symbol('too large');

/**
 * Resolves with the body as UTF-8, {@link TOO_LARGE} once it passes `maxBytes` (a declared
 * Content-Length past it is refused before reading), or `undefined` if the request was
 * aborted before its end.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<string | typeof TOO_LARGE | undefined> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) return Promise.resolve(TOO_LARGE);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (result: string | typeof TOO_LARGE | undefined) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      // Safe to drop the error listener too: node emits 'error' on a request only if one listens.
      req.off('error', onClose);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        // Stop pulling bytes off the socket; the transport answers 413 and closes it.
        req.pause();
        settle(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => settle(Buffer.concat(chunks, size).toString('utf8'));
    // 'close' before 'end' (or an 'error', such as `aborted`) means the client went away.
    const onClose = () => settle(undefined);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
    req.on('error', onClose);
  });
}
