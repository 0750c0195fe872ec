import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { apiErrorHandler, type ApiRouteOptions } from './api-common.js';
import { deviceRoutes } from './device-routes.js';
import { eventRoutes } from './event-routes.js';
import { pseudonymRoutes } from './pseudonym-routes.js';
import { statsRoutes } from './stats-routes.js';

/** API answers carry personal data: no browser or proxy may keep a copy. */
async function noStore(_request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  reply.header('cache-control', 'no-store');
  return payload;
}

/**
 * The REST API over the history: events, statistics, device inventories and (for admins)
 * pseudonym resolution with its audit trail. Registered as one encapsulated plugin so its
 * error format and headers apply to these routes only.
 */
export async function apiRoutes(api: FastifyInstance, options: ApiRouteOptions): Promise<void> {
  api.setErrorHandler(apiErrorHandler);
  api.addHook('onSend', noStore);
  await api.register(eventRoutes, options);
  await api.register(statsRoutes, options);
  await api.register(deviceRoutes, options);
  await api.register(pseudonymRoutes, options);
}
