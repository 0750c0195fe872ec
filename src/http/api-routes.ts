import type { FastifyInstance } from 'fastify';
import { decimalIntegers, noStore, type ApiRouteOptions } from './api-common.js';
import { deviceRoutes } from './device-routes.js';
import { eventRoutes } from './event-routes.js';
import { exportRoutes } from './export-routes.js';
import { exposureRoutes } from './exposure-routes.js';
import { pseudonymRoutes } from './pseudonym-routes.js';
import { statsRoutes } from './stats-routes.js';

/**
 * The REST API over the history: events and their exports, statistics, exposure, device inventories and (for admins)
 * pseudonym resolution with its audit trail. Registered as one encapsulated plugin so its
 * headers apply to these routes only (the error format is the whole server's, errors.ts).
 */
export async function apiRoutes(api: FastifyInstance, options: ApiRouteOptions): Promise<void> {
  api.addHook('onSend', noStore);
  api.addHook('preValidation', decimalIntegers);
  await api.register(eventRoutes, options);
  await api.register(exportRoutes, options);
  await api.register(statsRoutes, options);
  await api.register(exposureRoutes, options);
  await api.register(deviceRoutes, options);
  await api.register(pseudonymRoutes, options);
}
