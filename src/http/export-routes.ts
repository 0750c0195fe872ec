import { Readable } from 'node:stream';
import { Type, type Static } from '@sinclair/typebox';
import { stringify } from 'csv-stringify';
import type { FastifyInstance } from 'fastify';
import type { DetectionEvent } from '../events/detection-event.js';
import type { EventFilter, History } from '../history/history.js';
import { COMMON_ERRORS, withHistory, type ApiRouteOptions } from './api-common.js';
import { EVENT_FILTERS, eventFilter } from './event-routes.js';

/** Events one export holds at most; the newest come first, so a bounded export is the recent part. */
export const EXPORT_MAX = 100_000;
const EXPORT_DEFAULT = 10_000;
/** Rows read from the history per step, so an export never holds more than this in memory. */
const PAGE = 1000;

const ExportQuery = Type.Object(
  { ...EVENT_FILTERS, limit: Type.Optional(Type.Integer({ minimum: 1, maximum: EXPORT_MAX, default: EXPORT_DEFAULT, description: 'Most events exported' })) },
  { additionalProperties: false },
);
type ExportQuery = Static<typeof ExportQuery>;

/** The CSV columns, in order: one event per row, flat, as a spreadsheet wants it. */
const COLUMNS = [
  'id', 'time', 'kind', 'action', 'instance', 'client', 'device', 'group', 'qname', 'qtype', 'rcode',
  'app_id', 'app_name', 'owner', 'owner_country', 'attribution', 'matched_name', 'hosting_countries', 'hosting_asns',
  'owner_watchlisted', 'hosting_watchlisted', 'rule', 'exemption', 'count', 'cached', 'latency_ms',
] as const;

function row(event: DetectionEvent): (string | number | boolean | null)[] {
  return [
    event.id, new Date(event.ts).toISOString(), event.kind, event.action, event.instance, event.client, event.device, event.group, event.qname, event.qtype, event.rcode,
    event.app?.id ?? null, event.app?.name ?? null, event.owner?.name ?? null, event.owner?.country ?? null, event.attribution, event.matched_name,
    [...new Set(event.hosting.map((host) => host.country).filter((country) => country !== null))].join(' '),
    [...new Set(event.hosting.map((host) => host.asn).filter((asn) => asn !== null))].join(' '),
    event.owner_watchlisted, event.hosting_watchlisted, event.rule, event.exemption, event.count, event.cached, event.latency_ms,
  ];
}

/**
 * A spreadsheet runs a cell that starts with =, +, - or @ as a formula (CSV injection), and
 * query names and group names come from outside: such a text cell gets a leading quote.
 */
function inert(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

/** The matching events as `shape` makes them, newest first, read from the history a page at a time as the client takes them. */
function events(history: History, filter: Omit<EventFilter, 'limit' | 'before_id'>, limit: number, shape: (event: DetectionEvent) => unknown): Readable {
  let left = limit;
  let before: number | undefined;
  return new Readable({
    objectMode: true,
    read() {
      if (left <= 0) return void this.push(null);
      let page;
      try {
        page = history.events({ ...filter, ...(before === undefined ? {} : { before_id: before }), limit: Math.min(PAGE, left) });
      } catch (error) {
        // The download ends early; the client sees it cut short rather than complete.
        return void this.destroy(error as Error);
      }
      for (const event of page.items) this.push(shape(event));
      left -= page.items.length;
      if (page.next_before_id === null || page.items.length === 0) left = 0;
      else before = page.next_before_id;
      if (left <= 0) this.push(null);
    },
  });
}

function stamp(): string {
  return new Date().toISOString().slice(0, 19).replace(/[-:]/g, '');
}

/**
 * `GET /api/events.csv` and `GET /api/events.jsonl`: the events `/api/events` would page
 * through, streamed in one download (newest first, at most `limit`): CSV with a header row,
 * or one JSON event per line as the API returns them.
 */
export async function exportRoutes(app: FastifyInstance, { history, guards }: ApiRouteOptions): Promise<void> {
  const route = (format: 'csv' | 'jsonl', contentType: string, summary: string) =>
    app.get<{ Querystring: ExportQuery }>(
      `/api/events.${format}`,
      {
        schema: {
          tags: ['history'],
          summary,
          description: `The filters of /api/events; newest first, at most limit (default ${EXPORT_DEFAULT}, up to ${EXPORT_MAX}) events.`,
          querystring: ExportQuery,
          produces: [contentType],
          response: { 200: { description: 'The export, streamed', content: { [contentType]: { schema: Type.String() } } }, ...COMMON_ERRORS },
        },
        onRequest: guards.analyst,
      },
      withHistory<{ Querystring: ExportQuery }>(history, (history, request, reply) => {
        const { limit, ...query } = request.query;
        const filter = eventFilter(query);
        if ('error' in filter) return reply.code(400).send(filter);
        const count = limit ?? EXPORT_DEFAULT;
        const body =
          format === 'csv'
            ? events(history, filter, count, row).pipe(stringify({ header: true, columns: [...COLUMNS], cast: { string: inert, boolean: (value) => String(value) } }))
            : events(history, filter, count, (event) => `${JSON.stringify(event)}\n`);
        return reply
          .type(contentType)
          .header('content-disposition', `attachment; filename="wachtpost-events-${stamp()}.${format}"`)
          .send(body);
      }),
    );
  route('csv', 'text/csv; charset=utf-8', 'Stored events as CSV, with a header row');
  route('jsonl', 'application/jsonl; charset=utf-8', 'Stored events as JSON lines');
}
