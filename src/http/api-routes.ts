import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiRouteOptions } from './api-common.js';
import { deviceRoutes } from './device-routes.js';
import { eventRoutes } from './event-routes.js';
import { pseudonymRoutes } from './pseudonym-routes.js';
import { statsRoutes } from './stats-routes.js';

/** API answers carry personal data: no browser or proxy may keep a copy. */
async function noStore(_request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  reply.header('cache-control', 'no-store');
  return payload;
}

/** A whole number as a query carries it: decimal digits only, no sign, exponent, hex or leading zero. */
const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

/**
 * Before the schema coerces them: integer query parameters must be plain decimal. Ajv turns
 * "0x10" into 16 and "1e400" or "Infinity" into Infinity, which then reached SQLite.
 */
async function decimalIntegers(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const properties = (request.routeOptions.schema?.querystring as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties ?? {};
  const query = request.query as Record<string, unknown>;
  for (const [name, property] of Object.entries(properties)) {
    const value = query[name];
    if (property.type !== 'integer' || value === undefined || (typeof value === 'string' && DECIMAL.test(value))) continue;
    await reply.code(400).send({ error: 'invalid_request', message: `querystring/${name} must be a whole number written in decimal digits` });
    return reply;
  }
}

/**
 * The REST API over the history: events, statistics, device inventories and (for admins)
 * pseudonym resolution with its audit trail. Registered as one encapsulated plugin so its
 * headers apply to these routes only (the error format is the whole server's, errors.ts).
 */
export async function apiRoutes(api: FastifyInstance, options: ApiRouteOptions): Promise<void> {
  api.addHook('onSend', noStore);
  api.addHook('preValidation', decimalIntegers);
  await api.register(eventRoutes, options);
  await api.register(statsRoutes, options);
  await api.register(deviceRoutes, options);
  await api.register(pseudonymRoutes, options);
}
