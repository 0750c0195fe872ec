/** Schemas and helpers shared by the REST API's route files. */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest, RouteGenericInterface } from 'fastify';
import { CLIENT_EXPECTED, DEVICE_EXPECTED_FILTER, DEVICE_KEY_EXPECTED } from '../events/client-id.js';
import { ACTIONS, ATTRIBUTIONS, EVENT_KINDS, type Attribution, type History } from '../history/history.js';
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

/** The errors every API route can answer with (429: the source failed authentication too often). */
export const COMMON_ERRORS = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 429: ErrorSchema, 503: ErrorSchema } as const;

/** A DetectionEvent exactly as published (see src/events/detection-event.ts). */
export const EventSchema = Type.Object({
  id: Type.Integer({ description: 'Assigned by the hub, increasing across restarts' }),
  ts: Type.Number({ description: 'Milliseconds since the epoch (UTC)' }),
  kind: stringEnum(EVENT_KINDS),
  instance: Type.String({ description: 'The node that answered' }),
  client: Type.String({ description: 'Client address, or its pseudonym ("p:" + 24 hex digits)' }),
  device: nullable(Type.String({ description: 'Device id from encrypted DNS (SNI label, DoH path, client certificate), or its pseudonym; null when unknown' })),
  group: nullable(Type.String()),
  qname: Type.String(),
  qtype: Type.String(),
  rcode: Type.String(),
  app: nullable(
    Type.Object(
      {
        id: Type.String(),
        name: Type.String(),
        owner: Type.String(),
        owner_country: Type.String({ description: 'ISO 3166-1 alpha-2' }),
      },
      { description: 'The catalogued app (attribution name); null for network attribution, which knows only the owner' },
    ),
  ),
  matched_name: nullable(Type.String({ description: 'The name a catalogue rule matched: the query name, a CNAME target or an SVCB/HTTPS target' })),
  attribution: Type.Unsafe<Attribution | null>({
    type: ['string', 'null'],
    enum: [...ATTRIBUTIONS, null],
    description:
      'How the query was tied to an owner: name (a catalogue rule matched, certain) or network (an answer address lies in a network the owner operates, likely); null: neither',
  }),
  owner: nullable(
    Type.Object(
      { name: Type.String(), country: Type.String({ description: 'ISO 3166-1 alpha-2 country where control sits' }) },
      { description: "The app's owner (attribution name) or the network's (attribution network); set whenever attribution is" },
    ),
  ),
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
export const BeforeId = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Cursor: only items with a smaller id (next_before_id of the previous page)' });
export const NextBeforeId = nullable(Type.Integer({ description: 'Cursor for the next (older) page; null on the last page' }));

const NO_HISTORY: ApiError = { error: 'no_history', message: 'this node keeps no history (history.path is empty)' };

/** What each API route plugin is given: the history (null when this node keeps none) and the role guards. */
export interface ApiRouteOptions {
  readonly history: History | null;
  readonly guards: RoleGuards;
  /** Policy group → organisation, as configured now. */
  readonly organisations: () => ReadonlyMap<string, string>;
}

/** Runs `handler` with the history, or answers 503 when this node keeps none. */
export function withHistory<RG extends RouteGenericInterface>(
  history: History | null,
  handler: (history: History, request: FastifyRequest<RG>, reply: FastifyReply) => unknown,
) {
  return async (request: FastifyRequest<RG>, reply: FastifyReply): Promise<unknown> =>
    history === null ? reply.code(503).send(NO_HISTORY) : handler(history, request, reply);
}

/** The 400 body for a client parameter that is neither an address nor a pseudonym (the feed refuses it alike). */
export function invalidClient(field: string, value: string): ApiError {
  return { error: 'invalid_request', message: `${field}: ${JSON.stringify(value.slice(0, 64))} is not ${CLIENT_EXPECTED}` };
}

/** The 400 body for a device parameter that is no device id nor pseudonym. */
export function invalidDevice(field: string, value: string): ApiError {
  return { error: 'invalid_request', message: `${field}: ${JSON.stringify(value.slice(0, 64))} is not ${DEVICE_EXPECTED_FILTER}` };
}

/** The 400 body for a device key (inventory) that is no address, pseudonym nor device id. */
export function invalidDeviceKey(field: string, value: string): ApiError {
  return { error: 'invalid_request', message: `${field}: ${JSON.stringify(value.slice(0, 64))} is not ${DEVICE_KEY_EXPECTED}` };
}

/** API answers carry personal data: no browser or proxy may keep a copy. */
export async function noStore(_request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  reply.header('cache-control', 'no-store');
  return payload;
}

/** A whole number as a query carries it: decimal digits only, no sign, exponent, hex or leading zero. */
const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

/**
 * Before the schema coerces them: integer query parameters must be plain decimal. Ajv turns
 * "0x10" into 16 and "1e400" or "Infinity" into Infinity, which then reached SQLite.
 */
export async function decimalIntegers(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const properties = (request.routeOptions.schema?.querystring as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties ?? {};
  const query = request.query as Record<string, unknown>;
  for (const [name, property] of Object.entries(properties)) {
    const value = query[name];
    if (property.type !== 'integer' || value === undefined || (typeof value === 'string' && DECIMAL.test(value))) continue;
    await reply.code(400).send({ error: 'invalid_request', message: `querystring/${name} must be a whole number written in decimal digits` });
    return reply;
  }
}
