/** Schemas and helpers shared by the REST API's route files. */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { FastifyError, FastifyReply, FastifyRequest, RouteGenericInterface } from 'fastify';
import { ACTIONS, EVENT_KINDS, type History } from '../history/history.js';
import type { RoleGuards } from './auth.js';

/** `schema` or null, in the JSON Schema form @fastify/swagger turns into OpenAPI's `nullable`. */
export function nullable<T extends TSchema & { type: string }>(schema: T) {
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, 'null'] });
}

/** A string enum as plain `enum` (OpenAPI 3.0 has no `const`, which TypeBox literals produce). */
export function stringEnum<T extends string>(values: readonly T[], options: { description?: string; default?: T } = {}) {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });
}

export const ErrorSchema = Type.Object({
  error: Type.String({ description: 'Stable snake_case code' }),
  message: Type.String({ description: 'Human-readable explanation' }),
});
export type ApiError = Static<typeof ErrorSchema>;

/** The errors every API route can answer with. */
export const COMMON_ERRORS = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 503: ErrorSchema } as const;

/** A DetectionEvent exactly as published (see src/events/detection-event.ts). */
export const EventSchema = Type.Object({
  id: Type.Integer({ description: 'Assigned by the hub, increasing across restarts' }),
  ts: Type.Number({ description: 'Milliseconds since the epoch (UTC)' }),
  kind: stringEnum(EVENT_KINDS),
  instance: Type.String({ description: 'The node that answered' }),
  client: Type.String({ description: 'Client address, or its pseudonym ("p:" + 24 hex digits)' }),
  group: nullable(Type.String()),
  qname: Type.String(),
  qtype: Type.String(),
  rcode: Type.String(),
  app: nullable(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      owner: Type.String(),
      owner_country: Type.String({ description: 'ISO 3166-1 alpha-2' }),
    }),
  ),
  matched_name: nullable(Type.String({ description: 'The catalogue rule name that matched' })),
  hosting: Type.Array(
    Type.Object({
      ip: Type.String(),
      country: nullable(Type.String()),
      asn: nullable(Type.Integer()),
      org: nullable(Type.String()),
    }),
  ),
  owner_watchlisted: Type.Boolean(),
  hosting_watchlisted: Type.Boolean(),
  action: stringEnum(ACTIONS),
  rule: nullable(Type.String()),
  exemption: nullable(Type.String()),
  latency_ms: Type.Number(),
  cached: Type.Boolean(),
  count: Type.Integer({
    minimum: 1,
    description: "Queries this event stands for: 1, or more when a device's identical repeats within events.fold_window_ms were folded into it (ts, latency_ms and cached then describe the last)",
  }),
});

export const Limit = Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'Most items returned' });
export const BeforeId = Type.Integer({ minimum: 1, description: 'Cursor: only items with a smaller id (next_before_id of the previous page)' });
export const NextBeforeId = nullable(Type.Integer({ description: 'Cursor for the next (older) page; null on the last page' }));

const NO_HISTORY: ApiError = { error: 'no_history', message: 'this node keeps no history (history.path is empty)' };

/** What each API route plugin is given: the history (null when this node keeps none) and the role guards. */
export interface ApiRouteOptions {
  readonly history: History | null;
  readonly guards: RoleGuards;
}

/** Runs `handler` with the history, or answers 503 when this node keeps none. */
export function withHistory<RG extends RouteGenericInterface>(
  history: History | null,
  handler: (history: History, request: FastifyRequest<RG>, reply: FastifyReply) => unknown,
) {
  return async (request: FastifyRequest<RG>, reply: FastifyReply): Promise<unknown> =>
    history === null ? reply.code(503).send(NO_HISTORY) : handler(history, request, reply);
}

const CLIENT_ERROR_CODES: Readonly<Record<number, string>> = {
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

/**
 * Every API error as `{ error, message }` with a stable code, including Fastify's own
 * (schema validation, bad JSON); server faults are logged and answered without detail.
 */
export function apiErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error.validation !== undefined) return reply.code(400).send({ error: 'invalid_request', message: error.message });
  const status = error.statusCode ?? 500;
  if (status < 500) return reply.code(status).send({ error: CLIENT_ERROR_CODES[status] ?? 'bad_request', message: error.message });
  request.log.error({ err: error, route: request.routeOptions.url }, 'API request failed');
  return reply.code(500).send({ error: 'internal_error', message: 'internal error' });
}
