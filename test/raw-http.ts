/**
 * A raw HTTP/1.1 client over a loopback socket, for tests that send what fetch refuses to send:
 * bad escapes, truncated bodies, lying Content-Length headers, clients that vanish mid-request.
 */
import { connect } from 'node:net';

/** What came back on the socket: the parsed answer, if any, and how the connection ended. */
export interface RawAnswer {
  /** HTTP status, or undefined when the server closed without answering. */
  status: number | undefined;
  headers: Record<string, string>;
  body: string;
  /** The socket ended with an error (ECONNRESET, ...) rather than a clean close. */
  error: string | undefined;
}

export interface RawOptions {
  /** Bytes to send, in order; a function pauses the given number of ms between parts. */
  parts: (string | Buffer | number)[];
  /** After the last part: `end` half-closes, `destroy` drops the connection, `wait` waits for the answer. */
  then?: 'end' | 'destroy' | 'wait';
  /** Give up (destroy) after this long. Default 5,000 ms. */
  timeoutMs?: number;
}

/** Sends `parts` to 127.0.0.1:`port` and resolves with whatever the server answered. Never rejects. */
export function rawRequest(port: number, options: RawOptions): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let error: string | undefined;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parseAnswer(Buffer.concat(received), error));
    };
    const timer = setTimeout(finish, options.timeoutMs ?? 5000);
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      if (isComplete(Buffer.concat(received))) finish();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.on('close', finish);
    socket.once('connect', async () => {
      for (const part of options.parts) {
        if (settled || socket.destroyed) return;
        if (typeof part === 'number') await new Promise((r) => setTimeout(r, part));
        else socket.write(part);
      }
      if (options.then === 'end') socket.end();
      if (options.then === 'destroy') {
        socket.destroy();
        finish();
      }
    });
  });
}

function headerEnd(bytes: Buffer): number {
  return bytes.indexOf('\r\n\r\n');
}

function isComplete(bytes: Buffer): boolean {
  const end = headerEnd(bytes);
  if (end < 0) return false;
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(bytes.subarray(0, end).toString('latin1'));
  return length ? bytes.length - end - 4 >= Number(length[1]) : false;
}

function parseAnswer(bytes: Buffer, error: string | undefined): RawAnswer {
  const end = headerEnd(bytes);
  if (end < 0) return { status: undefined, headers: {}, body: '', error };
  const [statusLine, ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = bytes.subarray(end + 4);
  if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]) || undefined, headers, body: body.toString('utf8'), error };
}

/** A request head with `Connection: close`, so the answer ends with the connection. */
export function head(method: string, path: string, headers: Record<string, string | number> = {}): string {
  const lines = Object.entries({ host: '127.0.0.1', connection: 'close', ...headers }).map(([k, v]) => `${k}: ${v}`);
  return `${method} ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}
