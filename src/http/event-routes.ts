import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ACTIONS, ATTRIBUTIONS, EVENT_KINDS, type EventFilter } from '../history/history.js';
import { normaliseClient, normaliseDevice } from '../events/client-id.js';
import { BeforeId, COMMON_ERRORS, EventSchema, invalidClient, invalidDevice, Limit, NextBeforeId, stringEnum, withHistory, type ApiError, type ApiRouteOptions } from './api-common.js';

const Instant = Type.String({
  pattern: '^([0-9]{1,15}|[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ].*)?)$',
  description: 'ISO 8601 date or date-time, or milliseconds since the epoch',
});
const Country = Type.String({ pattern: '^[A-Za-z]{2}$', description: 'ISO 3166-1 alpha-2 code' });
const Text = (description: string) => Type.String({ minLength: 1, maxLength: 255, description });

/** The filters of /api/events and its exports (without paging). */
export const EVENT_FILTERS = {
  kind: Type.Optional(stringEnum(EVENT_KINDS)),
  action: Type.Optional(stringEnum(ACTIONS)),
  app: Type.Optional(Text('App id from the catalogue')),
  group: Type.Optional(Text('Client group')),
  client: Type.Optional(Text('Client address or pseudonym')),
  device: Type.Optional(Text('Device id or its pseudonym')),
  owner_country: Type.Optional(Country),
  attribution: Type.Optional(stringEnum(ATTRIBUTIONS, { description: 'name (a catalogue rule matched) or network (an answer in the owner\'s own network)' })),
  hosting_country: Type.Optional(Country),
  qname: Type.Optional(Text('This name and every name below it')),
  since: Type.Optional(Instant),
  until: Type.Optional(Instant),
};
const FilterQuery = Type.Object(EVENT_FILTERS);
export type FilterQuery = Static<typeof FilterQuery>;

const EventsQuery = Type.Object({ ...EVENT_FILTERS, before_id: Type.Optional(BeforeId), limit: Type.Optional(Limit) }, { additionalProperties: false });
type EventsQuery = Static<typeof EventsQuery>;

/** Epoch ms of an Instant; NaN when it is no real date (2024-13-01). */
function instant(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  return /^[0-9]+$/.test(text) ? Number(text) : Date.parse(text);
}

/**
 * The history's filter for a query of EVENT_FILTERS, or the 400 body naming what is wrong:
 * a time that is no date, a client that is no address or pseudonym, a device that is no id.
 */
export function eventFilter(query: FilterQuery): Omit<EventFilter, 'limit' | 'before_id'> | ApiError {
  const { since, until, client, device, ...filters } = query;
  const range = { since: instant(since), until: instant(until) };
  if (Number.isNaN(range.since) || Number.isNaN(range.until)) {
    return { error: 'invalid_time', message: 'since and until must be ISO 8601 dates or epoch milliseconds' };
  }
  const address = client === undefined ? undefined : normaliseClient(client);
  if (address === null) return invalidClient('querystring/client', client!);
  const id = device === undefined ? undefined : normaliseDevice(device);
  if (id === null) return invalidDevice('querystring/device', device!);
  return { ...filters, ...(address === undefined ? {} : { client: address }), ...(id === undefined ? {} : { device: id }), ...range };
}

/** `GET /api/events`: the history, filtered, newest first, paged by id. */
export async function eventRoutes(app: FastifyInstance, { history, guards }: ApiRouteOptions): Promise<void> {
  app.get<{ Querystring: EventsQuery }>(
    '/api/events',
    {
      schema: {
        tags: ['history'],
        summary: 'Stored events, newest first, filtered and paged by id',
        description: 'Filters combine with AND. Follow next_before_id as before_id for older pages; since is inclusive, until exclusive.',
        querystring: EventsQuery,
        response: { 200: Type.Object({ events: Type.Array(EventSchema), next_before_id: NextBeforeId }), ...COMMON_ERRORS },
      },
      onRequest: guards.analyst,
    },
    withHistory<{ Querystring: EventsQuery }>(history, (history, request, reply) => {
      const { limit, before_id, ...query } = request.query;
      const filter = eventFilter(query);
      if ('error' in filter) return reply.code(400).send(filter);
      const page = history.events({ ...filter, ...(before_id === undefined ? {} : { before_id }), limit: limit ?? Limit.default });
      return { events: page.items, next_before_id: page.next_before_id };
    }),
  );
}
