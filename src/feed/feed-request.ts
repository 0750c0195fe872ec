import { FeedError } from './feed-error.js';
import { parseFilter, type FilterSpec } from './feed-filter.js';

/** Most events `?backlog=` may ask for. */
export const MAX_BACKLOG = 1000;

/** Where a new connection starts and what it wants, from the query string. */
export interface FeedStart {
  readonly filter: FilterSpec;
  /** Resume after this id, or null to start live. */
  readonly since: number | null;
  /** Matching events from the ring to send first when starting live. */
  readonly backlog: number;
}

/** Parses `GET /feed?…`; throws FeedError, which the route answers with 400. */
export function parseFeedQuery(query: Record<string, unknown>): FeedStart {
  const { since, backlog, ...filterFields } = query;
  if (since !== undefined && backlog !== undefined) throw new FeedError('bad_resume', 'since and backlog exclude each other');
  return {
    filter: parseFilter(filterFields),
    since: since === undefined ? null : integerParam('since', since, Number.MAX_SAFE_INTEGER),
    backlog: backlog === undefined ? 0 : integerParam('backlog', backlog, MAX_BACKLOG),
  };
}

function integerParam(name: string, value: unknown, max: number): number {
  const number = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : NaN;
  if (Number.isNaN(number) || number > max) throw new FeedError('bad_resume', `${name} must be an integer from 0 to ${max}`);
  return number;
}
