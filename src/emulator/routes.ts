/**
 * Which call of the service a request is, from its method and path, and the checks of the ids
 * its path carries. A path the service does not have is a 404, a method it does not allow on
 * a known path a 405: the same answers, in the same order, as the real service gives.
 */
import type { RateCategory } from '../rate-limits.js';
import { xuidSchema } from '../schemas.js';
import { invalid } from './answers.js';

/** A routed request: its call, the ids as the path spells them, and its rate-limit category. */
export type Route =
  | { kind: 'get' | 'put' | 'delete'; titleId: string; xuid: string; category: RateCategory }
  | { kind: 'invite' | 'query' | 'recent'; titleId: string; xuid?: undefined; category: RateCategory }
  | { kind: 'wrong-method'; titleId: string; xuid?: undefined; category: RateCategory };

const MAX_TITLE_ID = 2 ** 32 - 1;
const DECIMAL = /^[0-9]{1,10}$/;
// `/titles/{titleId}/users/{xuid}/activities`, with or without a trailing slash or a query.
const ACTIVITY_PATH = /^\/titles\/([^/?]+)\/users\/([^/?]+)\/activities\/?(?:\?|$)/;
const POST_PATHS = [
  [/^\/titles\/([^/]+)\/invites\/server\/?$/, 'invite', 'invite'],
  [/^\/titles\/([^/]+)\/activities\/query\/?$/, 'query', 'read'],
  [/^\/titles\/([^/]+)\/recentplayergroups\/server\/?$/, 'recent', 'recentPlayers'],
] as const;

/** The route of a request, or `undefined` for a path the service does not have. */
export function routeOf(method: string, rawPath: string): Route | undefined {
  const activity = ACTIVITY_PATH.exec(rawPath);
  if (activity) {
    const titleId = activity[1]!;
    const xuid = decodeSegment(activity[2]!);
    const kind = method === 'GET' ? 'get' : method === 'PUT' ? 'put' : method === 'DELETE' ? 'delete' : undefined;
    if (!kind) return { kind: 'wrong-method', titleId, category: 'read' };
    return { kind, titleId, xuid, category: kind === 'get' ? 'read' : 'write' };
  }
  const query = rawPath.indexOf('?');
  const path = query === -1 ? rawPath : rawPath.slice(0, query);
  for (const [pattern, kind, category] of POST_PATHS) {
    const m = pattern.exec(path);
    if (m) return method === 'POST' ? { kind, titleId: m[1]!, category } : { kind: 'wrong-method', titleId: m[1]!, category };
  }
  return undefined;
}

/**
 * Percent-decodes a path segment. A bad escape (`%ZZ`) is left as it came: the id check that
 * follows refuses it with a 400 naming the field, instead of a URIError escaping the handler.
 */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The title id of a path, or the 400 that names what is wrong with it. */
export function parseTitleId(raw: string): number {
  if (!DECIMAL.test(raw)) throw invalid(`titleId: must be a decimal integer from 1 to ${MAX_TITLE_ID}`);
  const titleId = Number(raw);
  if (titleId < 1) throw invalid('titleId: must be at least 1');
  if (titleId > MAX_TITLE_ID) throw invalid(`titleId: must be at most ${MAX_TITLE_ID} (2^32-1)`);
  return titleId;
}

/** The canonical xuid of a path (leading zeros dropped), or the 400 that names what is wrong. */
export function parseXuid(raw: string): string {
  const parsed = xuidSchema.safeParse(raw);
  if (!parsed.success) throw invalid(`xuid: ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}
