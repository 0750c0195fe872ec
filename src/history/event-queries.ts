import type { Database, Statement } from 'better-sqlite3';
import { EVENT_KINDS, type Attribution, type DetectionEvent, type EventKind } from '../events/detection-event.js';
import type { Action } from '../pipeline/action.js';
import { fromRow, kindIn, reversedName, type EventRow } from './event-row.js';
import { pageOf, type Page } from './page.js';

/** What an analyst can narrow the history to; every field is optional except the page size. */
export interface EventFilter {
  kind?: EventKind;
  action?: Action;
  /** App id from the catalogue. */
  app?: string;
  group?: string;
  client?: string;
  /** Device id (or its pseudonym). */
  device?: string;
  /** ISO 3166 alpha-2 country of the owner the event was attributed to (by name or network). */
  owner_country?: string;
  attribution?: Attribution;
  /** Events with any answer address hosted in this country. */
  hosting_country?: string;
  /** This name and every name below it. */
  qname?: string;
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  /** Only events older than this id (the cursor of the previous page). */
  before_id?: number;
  limit: number;
}

const ANY_KIND = kindIn(EVENT_KINDS);

type Condition = (filter: EventFilter) => { sql: string; params: unknown[] } | null;

function equals(column: string, value: string | number | undefined): { sql: string; params: unknown[] } | null {
  return value === undefined ? null : { sql: `${column} = ?`, params: [value] };
}

/** One entry per filter; each yields its SQL and parameters, or null when unused. */
const CONDITIONS: readonly Condition[] = [
  (f) => equals('kind', f.kind),
  (f) => equals('action', f.action),
  (f) => equals('app_id', f.app),
  (f) => equals('grp', f.group),
  (f) => equals('client', f.client),
  (f) => equals('device', f.device),
  (f) => equals('owner_country', f.owner_country?.toUpperCase()),
  (f) => equals('attribution', f.attribution),
  (f) =>
    f.hosting_country === undefined
      ? null
      : { sql: 'id IN (SELECT event_id FROM event_countries WHERE country = ?)', params: [f.hosting_country.toUpperCase()] },
  (f) => {
    if (f.qname === undefined) return null;
    // '.' < '/' in byte order: [name + '.', name + '/') holds exactly the names below `name`.
    const name = reversedName(f.qname);
    return { sql: '(qname_rev = ? OR (qname_rev >= ? AND qname_rev < ?))', params: [name, `${name}.`, `${name}/`] };
  },
  // Without a kind, a range with an end names every kind, so that the (kind, ts) index
  // serves it. A range with only a start reads newest first by id and stops at the limit.
  (f) => (f.kind === undefined && f.until !== undefined ? { sql: ANY_KIND, params: [] } : null),
  (f) => (f.since === undefined ? null : { sql: 'ts >= ?', params: [f.since] }),
  (f) => (f.until === undefined ? null : { sql: 'ts < ?', params: [f.until] }),
  (f) => (f.before_id === undefined ? null : { sql: 'id < ?', params: [f.before_id] }),
];

/**
 * Filtered, newest-first reads of the history with cursor pagination by id (stable while
 * new events arrive, unlike offsets). Statements are prepared once per combination of
 * filters, of which there are a bounded number.
 */
export class EventQueries {
  private readonly statements = new Map<string, Statement<unknown[], EventRow>>();

  constructor(private readonly db: Database) {}

  find(filter: EventFilter): Page<DetectionEvent> {
    const used = CONDITIONS.map((condition) => condition(filter)).filter((condition) => condition !== null);
    const where = used.length === 0 ? '' : `WHERE ${used.map((condition) => condition.sql).join(' AND ')}`;
    const sql = `SELECT * FROM events ${where} ORDER BY id DESC LIMIT ?`;
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare<unknown[], EventRow>(sql);
      this.statements.set(sql, statement);
    }
    const rows = statement.all(...used.flatMap((condition) => condition.params), filter.limit + 1);
    const page = pageOf(rows, filter.limit);
    return { items: page.items.map(fromRow), next_before_id: page.next_before_id };
  }
}
