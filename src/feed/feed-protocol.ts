import type { RawData } from 'ws';
import { FeedError } from './feed-error.js';
import { parseFilter, type FilterSpec } from './feed-filter.js';

/** Close codes the feed sends; ws itself sends 1009 for a message above maxPayload. */
export const CloseCode = {
  GOING_AWAY: 1001,
  POLICY_VIOLATION: 1008,
  TRY_AGAIN_LATER: 1013,
  /** The sign-in the socket was opened with ended (signed out, expired, token removed). */
  ACCESS_ENDED: 4001,
  TOO_SLOW: 4008,
} as const;

export type ClientMessage = { readonly type: 'filter'; readonly filter: FilterSpec } | { readonly type: 'resume'; readonly since: number };

/** A client's text message; throws FeedError when it is not one the feed understands. */
export function parseClientMessage(data: RawData, isBinary: boolean): ClientMessage {
  if (isBinary) throw new FeedError('bad_message', 'messages must be JSON text');
  let message: unknown;
  try {
    message = JSON.parse(data.toString());
  } catch {
    throw new FeedError('bad_message', 'not valid JSON');
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    throw new FeedError('bad_message', 'a message must be a JSON object with a "type"');
  }
  const { type, ...fields } = message as Record<string, unknown>;
  if (type === 'filter') return { type, filter: parseFilter(fields) };
  if (type === 'resume') return { type, since: resumeSince(fields) };
  throw new FeedError('bad_message', 'type must be "filter" or "resume"');
}

function resumeSince(fields: Record<string, unknown>): number {
  const { since, ...rest } = fields;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new FeedError('bad_resume', `unknown field "${unknown}"`);
  if (typeof since !== 'number' || !Number.isSafeInteger(since) || since < 0) {
    throw new FeedError('bad_resume', 'since must be a non-negative integer event id');
  }
  return since;
}

// Server → client messages, built as text. Events are framed around the ring's cached JSON
// so an event is serialised once however many clients receive it.

export function helloMessage(lastId: number, oldestId: number, filter: FilterSpec, heartbeatMs: number, degraded: readonly string[]): string {
  return JSON.stringify({ type: 'hello', last_id: lastId, oldest_id: oldestId, filter, heartbeat_ms: heartbeatMs, degraded });
}

/** The node's health changed: `degraded` lists why the feed may be incomplete (empty: healthy again). */
export function statusMessage(degraded: readonly string[]): string {
  return JSON.stringify({ type: 'status', degraded });
}

export function eventMessage(eventJson: string): string {
  return '{"type":"event","event":' + eventJson + '}';
}

/** Events `from`..`to` (inclusive) were overwritten before this client got them. */
export function gapMessage(from: number, to: number): string {
  return `{"type":"gap","missed":${to - from + 1},"from":${from},"to":${to}}`;
}

/** `lastId`: every event up to it has been considered for this client. */
export function heartbeatMessage(lastId: number, ts: number): string {
  return `{"type":"heartbeat","last_id":${lastId},"ts":${ts}}`;
}

/** Acknowledges a filter message: the filter now in force, as normalised. */
export function filterMessage(filter: FilterSpec): string {
  return JSON.stringify({ type: 'filter', filter });
}

export function errorMessage(error: FeedError): string {
  return JSON.stringify({ type: 'error', code: error.code, message: error.message });
}
