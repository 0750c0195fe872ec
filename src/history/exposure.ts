import type { Database, Statement } from 'better-sqlite3';
import { EVENT_KINDS } from '../events/detection-event.js';
import { ACTIONS, type Action } from '../pipeline/action.js';
import { kindIn } from './event-row.js';

const DAY_MS = 86_400_000;
/** Apps listed per group. */
const TOP_APPS = 5;

/** One period's figures for one group. */
export interface ExposureFigures {
  /** Devices (device id, else client address or pseudonym) with any recorded query. */
  devices: number;
  /** Of those, devices that asked for an app or network of a watch-listed owner. */
  devices_watchlisted: number;
  /** Queries by what policy did with them (blocked, allowed, monitored, exempted). */
  queries: Record<Action, number>;
  /** Queries for watch-listed owners' apps and networks, whatever was done with them. */
  queries_watchlisted: number;
}

export interface GroupExposure extends ExposureFigures {
  /** The policy group; null for clients in no group. */
  group: string | null;
  top_apps: { id: string; name: string; owner_country: string; devices: number; queries: number }[];
  /** The same figures for the period before, as long, for the trend. */
  previous: ExposureFigures;
}

export interface Exposure {
  days: number;
  /** Epoch ms: this period is [since, until), the previous one [previous_since, since). */
  since: number;
  until: number;
  previous_since: number;
  groups: GroupExposure[];
}

type Range = [since: number, until: number];
interface GroupRow {
  grp: string | null;
  devices: number;
  devices_watchlisted: number;
  queries_watchlisted: number;
}

/** Queries in a time range: residual events left out (each repeats a counted block). */
const QUERIES = `${kindIn(EVENT_KINDS.filter((kind) => kind !== 'residual'))} AND ts >= ? AND ts < ?`;
const DEVICE = 'coalesce(device, client)';

/**
 * "Which of our devices used watch-listed apps, in which group, and is it going down?":
 * per policy group over the last N days and the N days before, from the history. Every
 * figure sums `count` (folded repeats) and leaves residual events out.
 */
export class ExposureQueries {
  private readonly groups: Statement<Range, GroupRow>;
  private readonly actions: Statement<Range, { grp: string | null; action: Action; queries: number }>;
  private readonly apps: Statement<Range, { grp: string | null; id: string; name: string; owner_country: string; devices: number; queries: number }>;

  constructor(db: Database) {
    this.groups = db.prepare(
      `SELECT grp, count(DISTINCT ${DEVICE}) AS devices,
              count(DISTINCT CASE WHEN owner_watchlisted = 1 THEN ${DEVICE} END) AS devices_watchlisted,
              coalesce(sum(CASE WHEN owner_watchlisted = 1 THEN count END), 0) AS queries_watchlisted
       FROM events WHERE ${QUERIES} GROUP BY grp`,
    );
    this.actions = db.prepare(`SELECT grp, action, sum(count) AS queries FROM events WHERE ${QUERIES} GROUP BY grp, action`);
    this.apps = db.prepare(
      `SELECT grp, app_id AS id, max(app_name) AS name, max(app_owner_country) AS owner_country,
              count(DISTINCT ${DEVICE}) AS devices, sum(count) AS queries
       FROM events WHERE ${QUERIES} AND app_id IS NOT NULL AND owner_watchlisted = 1
       GROUP BY grp, app_id ORDER BY grp, devices DESC, queries DESC, id`,
    );
  }

  compute(days: number, now: number): Exposure {
    const until = now;
    const since = until - days * DAY_MS;
    const previousSince = since - days * DAY_MS;
    const current = this.figures([since, until]);
    const previous = this.figures([previousSince, since]);
    const apps = new Map<string | null, GroupExposure['top_apps']>();
    for (const { grp, ...app } of this.apps.all(since, until)) {
      const list = apps.get(grp) ?? [];
      if (list.length < TOP_APPS) list.push(app);
      apps.set(grp, list);
    }
    const empty = (): ExposureFigures => ({ devices: 0, devices_watchlisted: 0, queries: zeroActions(), queries_watchlisted: 0 });
    const names = [...new Set([...current.keys(), ...previous.keys()])].sort((a, b) => (a ?? '\uffff').localeCompare(b ?? '\uffff'));
    return {
      days,
      since,
      until,
      previous_since: previousSince,
      groups: names.map((group) => ({ group, ...(current.get(group) ?? empty()), top_apps: apps.get(group) ?? [], previous: previous.get(group) ?? empty() })),
    };
  }

  private figures([since, until]: Range): Map<string | null, ExposureFigures> {
    const byGroup = new Map<string | null, ExposureFigures>();
    for (const { grp, ...row } of this.groups.all(since, until)) byGroup.set(grp, { ...row, queries: zeroActions() });
    for (const { grp, action, queries } of this.actions.all(since, until)) byGroup.get(grp)!.queries[action] = queries;
    return byGroup;
  }
}

function zeroActions(): Record<Action, number> {
  return Object.fromEntries(ACTIONS.map((action) => [action, 0])) as Record<Action, number>;
}
