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
  /** One entry per hour of the window, oldest first, zeros included. */
  blocked_per_hour: { start: number; count: number }[];
}

type Window = [since: number, until: number];

/**
 * Events of `kinds` in the window; `table` qualifies the columns in a join. The kinds are
 * named (rather than `kind <> 'residual'`, or no kind at all) so that the (kind, ts) index
 * serves the time range: there is no index on ts alone.
 */
function eventsIn(kinds: readonly EventKind[], table = ''): string {
  const prefix = table === '' ? '' : `${table}.`;
  return `${kindIn(kinds, prefix)} AND ${prefix}ts >= ? AND ${prefix}ts < ?`;
}

/** Queries in the window: residual events left out. */
function queriesIn(table = ''): string {
  return eventsIn(EVENT_KINDS.filter((kind) => kind !== 'residual'), table);
}

/**
 * Aggregates for the dashboard over a recent window, one indexed range scan per figure.
 * Figures sum `count`, as an event may stand for several folded queries. Column aliases
 * are the output's field names, so rows need no mapping.
 */
export class StatsQueries {
  private readonly kinds: Statement<Window, { key: EventKind; count: number }>;
  private readonly actions: Statement<Window, { key: Action; count: number }>;
  private readonly apps: Statement<Window, Stats['top_apps'][number]>;
  private readonly devices: Statement<Window, Stats['top_devices'][number]>;
  private readonly ownerCountries: Statement<Window, Stats['top_owner_countries'][number]>;
  private readonly hostingCountries: Statement<Window, Stats['top_hosting_countries'][number]>;
  private readonly blocked: Statement<Window, { hour: number; count: number }>;

  constructor(db: Database) {
    this.kinds = db.prepare(`SELECT kind AS key, sum(count) AS count FROM events WHERE ${eventsIn(EVENT_KINDS)} GROUP BY kind`);
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
    this.blocked = db.prepare(
      `SELECT CAST(ts / ${HOUR_MS} AS INTEGER) * ${HOUR_MS} AS hour, sum(count) AS count FROM events
       WHERE ${queriesIn()} AND action = 'block' GROUP BY hour`,
    );
  }

  compute(window: StatsWindow, now: number): Stats {
    const range: Window = [now - STATS_WINDOWS[window], now];
    return {
      window,
      since: range[0],
      until: range[1],
      kinds: { detection: 0, residual: 0, bypass: 0, query: 0, ...counts(this.kinds.all(...range)) },
      actions: { allow: 0, monitor: 0, block: 0, exempt: 0, ...counts(this.actions.all(...range)) },
      top_apps: this.apps.all(...range),
      top_devices: this.devices.all(...range),
      top_owner_countries: this.ownerCountries.all(...range),
      top_hosting_countries: this.hostingCountries.all(...range),
      blocked_per_hour: hourly(this.blocked.all(...range), range),
    };
  }
}

function counts<K extends string>(rows: { key: K; count: number }[]): Partial<Record<K, number>> {
  return Object.fromEntries(rows.map((row) => [row.key, row.count])) as Partial<Record<K, number>>;
}

/** Every hour bucket touching the window, so a chart needs no gap filling. */
function hourly(rows: { hour: number; count: number }[], [since, until]: Window): Stats['blocked_per_hour'] {
  const byHour = new Map(rows.map((row) => [row.hour, row.count]));
  const buckets: Stats['blocked_per_hour'] = [];
  for (let start = Math.floor(since / HOUR_MS) * HOUR_MS; start < until; start += HOUR_MS) {
    buckets.push({ start, count: byHour.get(start) ?? 0 });
  }
  return buckets;
}
