import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ACTIONS, EVENT_KINDS, STATS_WINDOWS, type StatsWindow } from '../history/history.js';
import { COMMON_ERRORS, stringEnum, withHistory, type ApiRouteOptions } from './api-common.js';

const DEFAULT_WINDOW: StatsWindow = '24h';
const StatsQuery = Type.Object(
  {
    window: Type.Optional(
      stringEnum<StatsWindow>(Object.keys(STATS_WINDOWS) as StatsWindow[], { default: DEFAULT_WINDOW, description: 'How far back from now' }),
    ),
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
  blocked_per_hour: Type.Array(Type.Object({ start: Type.Number({ description: 'Hour start, epoch ms' }), count: Count }), {
    description: 'Every hour of the window, oldest first',
  }),
});

/** `GET /api/stats`: dashboard aggregates over a recent window. */
export async function statsRoutes(app: FastifyInstance, { history, guards }: ApiRouteOptions): Promise<void> {
  app.get<{ Querystring: StatsQuery }>(
    '/api/stats',
    {
      schema: {
        tags: ['history'],
        summary: 'Top apps, devices and countries, counts per action and blocks per hour over a window',
        querystring: StatsQuery,
        response: { 200: StatsSchema, ...COMMON_ERRORS },
      },
      onRequest: guards.analyst,
    },
    withHistory<{ Querystring: StatsQuery }>(history, (history, request) => history.stats(request.query.window ?? DEFAULT_WINDOW)),
  );
}
