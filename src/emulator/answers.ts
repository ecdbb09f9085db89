/**
 * What the emulator's core takes and gives: a request as text, and an answer, a dropped
 * connection or no answer at all. Each step of serving a request throws a {@link Refusal} to
 * answer early, so that every refusal becomes the same `{ errorCode, debugMessage }` body.
 */

/** A request as the core sees it: the transports (`startEmulator`, `inProcessFetch`) build it. */
export interface CoreRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  body: string;
  signal?: AbortSignal | undefined;
}

/** What the transport must do: answer, drop the connection, or never answer. */
export type CoreResponse =
  | { kind: 'answer'; status: number; headers: Record<string, string>; body: string }
  | { kind: 'reset' }
  | { kind: 'hang' };

/** An answer given instead of serving the request (a bad body, a throttle, a missing token). */
export class Refusal {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

/** The service's 400 for a bad request: `RequestValidationError` unless told otherwise. */
export function invalid(debugMessage: string, errorCode = 'RequestValidationError'): Refusal {
  return new Refusal(400, { errorCode, debugMessage });
}

/** An answer with a text body. */
export function answer(status: number, body: string, headers: Record<string, string> = {}): CoreResponse {
  return { kind: 'answer', status, headers, body };
}

/** An answer with a JSON body. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): CoreResponse {
  return answer(status, JSON.stringify(body), { 'content-type': 'application/json', ...headers });
}

/** The 204 of every accepted write. */
export function noContent(): CoreResponse {
  return answer(204, '');
}

/** The service's ThrottledEntity body of a 429: numbers as strings, as the service sends them. */
export function throttledEntity(current: number, max: number, periodSeconds: number, debugMessage: string) {
  return { currentRequests: String(current), maxRequests: String(max), periodInSeconds: String(periodSeconds), limitType: 'Rate', debugMessage, version: '1' };
}
