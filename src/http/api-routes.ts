import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { apiErrorHandler } from './api-common.js';
import { deviceRoutes } from './device-routes.js';
import { eventRoutes } from './event-routes.js';
import type { HttpContext } from './http-server.js';
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
export function apiRoutes(app: FastifyInstance, ctx: HttpContext): void {
  void app.register(async (api) => {
    api.setErrorHandler(apiErrorHandler);
    api.addHook('onSend', noStore);
    eventRoutes(api, ctx);
    statsRoutes(api, ctx);
    deviceRoutes(api, ctx);
    pseudonymRoutes(api, ctx);
  });
}
