/**
 * What the service's answer means: the JSON of a success, or the typed error of a failure
 * (throttled with its Retry-After, refused, not authorized, or a service error), built from
 * the service's `errorCode` and `debugMessage`, never from the request's headers.
 */
import { MpaAuthorizationError, MpaRequestRejectedError, MpaServerError, MpaThrottledError, MpaTransportError, type MpaError } from './errors.js';
import { parseRetryAfter } from './retry-after.js';
import { errorResponseSchema, throttledEntitySchema } from './schemas.js';

/** An answer as read within the call's timeout: its status, headers and whole body. */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/** The JSON body of a 2xx answer (any 2xx is success, with or without a body). */
export function answerJson(answer: Answer): unknown {
  const { text, headers, status } = answer;
  if (status === 204 || text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new MpaTransportError('body', `the body of answer ${status} is not JSON (${text.length} characters${headers.get('content-type') ? `, content-type ${headers.get('content-type')}` : ''})`, {
      status,
      cause,
    });
  }
}

/** The error a non-2xx answer means; `signed`: the call carried a Signature. */
export function answerError(answer: Answer, retryAfter: { now: number; capMs: number }, signed: boolean): MpaError {
  const { status, text } = answer;
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  const retryAfterMs = parseRetryAfter(answer.headers.get('retry-after'), retryAfter);
  if (status === 429 || (status === 503 && retryAfterMs !== undefined)) {
    const entity = json === undefined ? undefined : throttledEntitySchema.safeParse(json);
    const throttle = entity?.success ? entity.data : undefined;
    const message = `throttled (${status})${retryAfterMs !== undefined ? `, retry after ${retryAfterMs} ms` : ''}${throttle?.debugMessage ? `: ${throttle.debugMessage}` : ''}`;
    return new MpaThrottledError(message, { status, retryAfterMs, throttle, debugMessage: throttle?.debugMessage });
  }
  const parsed = errorResponseSchema.safeParse(json);
  const errorCode = parsed.success ? parsed.data.errorCode : undefined;
  const debugMessage = parsed.success ? parsed.data.debugMessage : undefined;
  const details = { status, errorCode, debugMessage };
  const says = `${status}${errorCode ? ` ${errorCode}` : ''}${debugMessage ? `: ${debugMessage}` : ''}`;
  if (status === 403 && signed) {
    return new MpaAuthorizationError(`the service refused the request's Signature (${says}): check that the server clock is within 5 minutes of UTC`, details);
  }
  if (status === 401 || status === 403 || errorCode === 'AuthorizationError') return new MpaAuthorizationError(`not authorized (${says})`, details);
  if (status >= 500 || status === 408) return new MpaServerError(`service error (${says})`, details);
  return new MpaRequestRejectedError(`request rejected (${says})`, details);
}
