import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { normaliseClient, normaliseDevice } from '../events/client-id.js';
import { ACTIONS, EVENT_KINDS, STATS_WINDOWS, type StatsScope, type StatsWindow } from '../history/history.js';
import { COMMON_ERRORS, invalidClient, invalidDevice, stringEnum, withHistory, type ApiError, type ApiRouteOptions } from './api-common.js';
import { EVENT_FILTERS } from './event-routes.js';

const DEFAULT_WINDOW: StatsWindow = '24h';
const StatsQuery = Type.Object(
  {
    window: Type.Optional(
      stringEnum<StatsWindow>(Object.keys(STATS_WINDOWS) as StatsWindow[], { default: DEFAULT_WINDOW, description: 'How far back from now' }),
    ),
    client: EVENT_FILTERS.client,
    device: EVENT_FILTERS.device,
  },
  { additionalProperties: false },
);
type StatsQuery = Static<typeof StatsQuery>;

/** An object with one integer count per name. */
export function countsOf(names: readonly string[], description: string): TObject<TProperties> {
  return Type.Object(Object.fromEntries(names.map((name) => [name, Type.Integer()])), { description });
}

export const Count = Type.Integer({ minimum: 0 });
const TopCountries = Type.Array(Type.Object({ country: Type.String(), count: Count }));

const StatsSchema = Type.Object({
  window: Type.String(),
  since: Type.Number({ description: 'Window start, epoch ms (inclusive)' }),
  until: Type.Number({ description: 'Window end, epoch ms (exclusive)' }),
  kinds: countsOf(EVENT_KINDS, 'Events per kind'),
  actions: countsOf(ACTIONS, 'Queries per action (residual events, which repeat a block, are left out here and below)'),
  top_apps: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), count: Count })),
  top_devices: Type.Array(Type.Object({ client: Type.String(), count: Count })),
  top_owner_countries: TopCountries,
  top_hosting_countries: TopCountries,
  actions_per_hour: Type.Array(Type.Object({ start: Type.Number({ description: 'Hour start, epoch ms' }), ...Object.fromEntries(ACTIONS.map((action) => [action, Count])) }), {
    description: 'Queries per action in every hour of the window, oldest first',
  }),
});

/** Whose events to count: everyone's, one client's or one device's (not both); or the 400 body. */
function scopeOf({ client, device }: StatsQuery): StatsScope | ApiError {
  if (client !== undefined && device !== undefined) return { error: 'invalid_request', message: 'querystring: give client or device, not both' };
  if (client !== undefined) {
    const address = normaliseClient(client);
    return address === null ? invalidClient('querystring/client', client) : { client: address };
  }
  if (device === undefined) return null;
  const id = normaliseDevice(device);
  return id === null ? invalidDevice('querystring/device', device) : { device: id };
}

/** `GET /api/stats`: dashboard aggregates over a recent window. */
export async function statsRoutes(app: FastifyInstance, { history, guards }: ApiRouteOptions): Promise<void> {
  app.get<{ Querystring: StatsQuery }>(
    '/api/stats',
    {
      schema: {
        tags: ['history'],
        summary: 'Top apps, devices and countries, and queries per action in total and per hour, over a window',
        description: 'With client or device, every figure counts that client\'s or device\'s events only (a device page).',
        querystring: StatsQuery,
        response: { 200: StatsSchema, ...COMMON_ERRORS },
      },
      onRequest: guards.analyst,
    },
    withHistory<{ Querystring: StatsQuery }>(history, (history, request, reply) => {
      const scope = scopeOf(request.query);
      if (scope !== null && 'error' in scope) return reply.code(400).send(scope);
      return history.stats(request.query.window ?? DEFAULT_WINDOW, Date.now(), scope);
    }),
  );
}
