import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ACTIONS } from '../history/history.js';
import { COMMON_ERRORS, withHistory, type ApiRouteOptions } from './api-common.js';
import { Count, countsOf } from './stats-routes.js';

const ExposureQuery = Type.Object(
  { days: Type.Optional(Type.Integer({ minimum: 1, maximum: 90, default: 7, description: 'Length of the period, ending now; the trend compares it with as many days before' })) },
  { additionalProperties: false },
);
type ExposureQuery = Static<typeof ExposureQuery>;

const Figures = {
  devices: Type.Integer({ minimum: 0, description: 'Devices (device id, else address or pseudonym) with any recorded query' }),
  devices_watchlisted: Type.Integer({ minimum: 0, description: 'Devices that asked for an app or network of a watch-listed owner' }),
  queries: countsOf(ACTIONS, 'Queries by what policy did with them'),
  queries_watchlisted: Type.Integer({ minimum: 0, description: "Queries for watch-listed owners' apps and networks" }),
};

const ExposureSchema = Type.Object({
  days: Type.Integer(),
  since: Type.Number({ description: 'Period start, epoch ms (inclusive)' }),
  until: Type.Number({ description: 'Period end, epoch ms (exclusive)' }),
  previous_since: Type.Number({ description: 'Start of the period before, which ends at since' }),
  groups: Type.Array(
    Type.Object({
      group: Type.Union([Type.String(), Type.Null()], { description: 'Policy group; null for clients in none' }),
      organisation: Type.Union([Type.String(), Type.Null()], { description: "The group's organisation as configured now; null for no group or a group no longer configured" }),
      ...Figures,
      top_apps: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), owner_country: Type.String(), devices: Count, queries: Count }), {
        description: "Watch-listed owners' apps by devices, then queries (at most 5)",
      }),
      previous: Type.Object(Figures, { description: 'The same figures for the period before' }),
    }),
  ),
});

/** `GET /api/exposure`: per group, devices that used watch-listed apps, what was blocked, and the trend. */
export async function exposureRoutes(app: FastifyInstance, { history, guards, organisations }: ApiRouteOptions): Promise<void> {
  app.get<{ Querystring: ExposureQuery }>(
    '/api/exposure',
    {
      schema: {
        tags: ['history'],
        summary: 'Per group: devices seen and those that used watch-listed apps, top apps, queries by action, against the period before',
        querystring: ExposureQuery,
        response: { 200: ExposureSchema, ...COMMON_ERRORS },
      },
      onRequest: guards.analyst,
    },
    withHistory<{ Querystring: ExposureQuery }>(history, (history, request) => {
      const exposure = history.exposure(request.query.days ?? 7);
      const names = organisations();
      return { ...exposure, groups: exposure.groups.map((group) => ({ ...group, organisation: group.group === null ? null : (names.get(group.group) ?? null) })) };
    }),
  );
}
