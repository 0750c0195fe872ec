import type { Database, Statement } from 'better-sqlite3';
import { EVENT_KINDS, type EventKind } from '../events/detection-event.js';
import type { Action } from '../pipeline/action.js';
import { kindIn } from './event-row.js';

const HOUR_MS = 3_600_000;

/** The windows the dashboard offers, in milliseconds. */
export const STATS_WINDOWS = { '1h': HOUR_MS, '24h': 24 * HOUR_MS, '7d': 7 * 24 * HOUR_MS, '30d': 30 * 24 * HOUR_MS } as const;
export type StatsWindow = keyof typeof STATS_WINDOWS;

/** Entries in each top list. */
const TOP = 10;

export interface Stats {
  window: StatsWindow;
  /** Epoch ms: the window is [since, until). */
  since: number;
  until: number;
  /** Queries per kind, residual ones included. */
  kinds: Record<EventKind, number>;
  /**
   * Queries per action. This and everything below leave residual events out: each repeats
   * a block that is already counted.
   */
  actions: Record<Action, number>;
  top_apps: { id: string; name: string; count: number }[];
  top_devices: { client: string; count: number }[];
  /** Owners attributed by name or by network. */
  top_owner_countries: { country: string; count: number }[];
  top_hosting_countries: { country: string; count: number }[];
  /** Queries per action in each hour of the window, oldest first, zeros included. */
  actions_per_hour: ({ start: number } & Record<Action, number>)[];
}

/** Whose events the figures count: everyone's, one client address's or one device's. */
export type StatsScope = { client: string } | { device: string } | null;

/** The window's start and end, then the client or device when scoped. */
type Params = (number | string)[];

/**
 * Events of `kinds` in the window; `table` qualifies the columns in a join. The kinds are
 * named (rather than `kind <> 'residual'`, or no kind at all) so that the (kind, ts) index
 * serves the time range: there is no index on ts alone.
 */
function eventsIn(kinds: readonly EventKind[], scope: ScopeColumn, table = ''): string {
  const prefix = table === '' ? '' : `${table}.`;
  return `${kindIn(kinds, prefix)} AND ${prefix}ts >= ? AND ${prefix}ts < ?${scope === null ? '' : ` AND ${prefix}${scope} = ?`}`;
}

/** Queries in the window: residual events left out. */
function queriesInScope(scope: ScopeColumn, table = ''): string {
  return eventsIn(EVENT_KINDS.filter((kind) => kind !== 'residual'), scope, table);
}

type ScopeColumn = 'client' | 'device' | null;

/**
 * Aggregates for the dashboard over a recent window, one indexed range scan per figure,
 * for everyone or for one client or device (a set of statements each, prepared on first
 * use). Figures sum `count`, as an event may stand for several folded queries. Column
 * aliases are the output's field names, so rows need no mapping.
 */
export class StatsQueries {
  private readonly scoped = new Map<ScopeColumn, ScopedStats>();

  constructor(private readonly db: Database) {}

  compute(window: StatsWindow, now: number, scope: StatsScope = null): Stats {
    const column: ScopeColumn = scope === null ? null : 'client' in scope ? 'client' : 'device';
    let statements = this.scoped.get(column);
    if (statements === undefined) this.scoped.set(column, (statements = new ScopedStats(this.db, column)));
    const since = now - STATS_WINDOWS[window];
    return statements.compute(window, since, now, scope === null ? null : 'client' in scope ? scope.client : scope.device);
  }
}

class ScopedStats {
  private readonly kinds: Statement<Params, { key: EventKind; count: number }>;
  private readonly actions: Statement<Params, { key: Action; count: number }>;
  private readonly apps: Statement<Params, Stats['top_apps'][number]>;
  private readonly devices: Statement<Params, Stats['top_devices'][number]>;
  private readonly ownerCountries: Statement<Params, Stats['top_owner_countries'][number]>;
  private readonly hostingCountries: Statement<Params, Stats['top_hosting_countries'][number]>;
  private readonly hours: Statement<Params, { hour: number; action: Action; count: number }>;

  constructor(db: Database, scope: ScopeColumn) {
    const queriesIn = (table = ''): string => queriesInScope(scope, table);
    this.kinds = db.prepare(`SELECT kind AS key, sum(count) AS count FROM events WHERE ${eventsIn(EVENT_KINDS, scope)} GROUP BY kind`);
    this.actions = db.prepare(`SELECT action AS key, sum(count) AS count FROM events WHERE ${queriesIn()} GROUP BY action`);
    this.apps = db.prepare(
      `SELECT app_id AS id, max(app_name) AS name, sum(count) AS count FROM events
       WHERE ${queriesIn()} AND app_id IS NOT NULL GROUP BY app_id ORDER BY count DESC, id LIMIT ${TOP}`,
    );
    this.devices = db.prepare(
      `SELECT client, sum(count) AS count FROM events WHERE ${queriesIn()} GROUP BY client ORDER BY count DESC, client LIMIT ${TOP}`,
    );
    this.ownerCountries = db.prepare(
      `SELECT owner_country AS country, sum(count) AS count FROM events
       WHERE ${queriesIn()} AND owner_country IS NOT NULL GROUP BY country ORDER BY count DESC, country LIMIT ${TOP}`,
    );
    this.hostingCountries = db.prepare(
      `SELECT c.country AS country, sum(e.count) AS count FROM events e JOIN event_countries c ON c.event_id = e.id
       WHERE ${queriesIn('e')} GROUP BY c.country ORDER BY count DESC, country LIMIT ${TOP}`,
    );
    this.hours = db.prepare(
      `SELECT CAST(ts / ${HOUR_MS} AS INTEGER) * ${HOUR_MS} AS hour, action, sum(count) AS count FROM events
       WHERE ${queriesIn()} GROUP BY hour, action`,
    );
  }

  compute(window: StatsWindow, since: number, until: number, who: string | null): Stats {
    const range: Params = who === null ? [since, until] : [since, until, who];
    return {
      window,
      since,
      until,
      kinds: { detection: 0, residual: 0, bypass: 0, query: 0, ...counts(this.kinds.all(...range)) },
      actions: { allow: 0, monitor: 0, block: 0, exempt: 0, ...counts(this.actions.all(...range)) },
      top_apps: this.apps.all(...range),
      top_devices: this.devices.all(...range),
      top_owner_countries: this.ownerCountries.all(...range),
      top_hosting_countries: this.hostingCountries.all(...range),
      actions_per_hour: hourly(this.hours.all(...range), since, until),
    };
  }
}

function counts<K extends string>(rows: { key: K; count: number }[]): Partial<Record<K, number>> {
  return Object.fromEntries(rows.map((row) => [row.key, row.count])) as Partial<Record<K, number>>;
}

/** Every hour bucket touching the window, so a chart needs no gap filling. */
function hourly(rows: { hour: number; action: Action; count: number }[], since: number, until: number): Stats['actions_per_hour'] {
  const buckets: Stats['actions_per_hour'] = [];
  const byHour = new Map<number, Stats['actions_per_hour'][number]>();
  for (let start = Math.floor(since / HOUR_MS) * HOUR_MS; start < until; start += HOUR_MS) {
    const bucket = { start, allow: 0, monitor: 0, block: 0, exempt: 0 };
    buckets.push(bucket);
    byHour.set(start, bucket);
  }
  for (const row of rows) {
    const bucket = byHour.get(row.hour);
    if (bucket !== undefined) bucket[row.action] = row.count;
  }
  return buckets;
}
