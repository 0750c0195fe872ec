import { join } from 'node:path';
import Database, { type Database as Db } from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DetectionEvent } from '../../src/events/detection-event.js';
import { openDatabase } from '../../src/history/database.js';
import { EventQueries, type EventFilter } from '../../src/history/event-queries.js';
import { hostingCountries, toRow, type EventRow } from '../../src/history/event-row.js';
import { History } from '../../src/history/history.js';
import { Inventory } from '../../src/history/inventory.js';
import { Purger } from '../../src/history/purge.js';
import { MIGRATIONS } from '../../src/history/schema.js';
import { StatsQueries } from '../../src/history/stats.js';
import { allEvents, DAY, HOUR, historySettings, makeEvent, silentLog, T0, tempDir, TELEGRAM, WECHAT } from './fixtures.js';

let cleanup: () => Promise<void>;
let path: string;
beforeEach(async () => {
  const temp = await tempDir();
  cleanup = temp.cleanup;
  path = join(temp.dir, 'history.sqlite');
});
afterEach(() => cleanup());

const PSEUDONYM = 'p:0123456789abcdef01234567';

/** Covers every filter: nulls in the partially indexed columns, several hostings, every kind. */
const EVENTS: DetectionEvent[] = [
  /* 1 */ makeEvent({ id: 1, ts: T0 - 3 * HOUR }),
  /* 2 */ makeEvent({ id: 2, ts: T0 - 2 * HOUR, client: PSEUDONYM, action: 'monitor', group: null }),
  /* 3 */ makeEvent({ id: 3, ts: T0 - HOUR, app: WECHAT, qname: 'long.weixin.qq.com', matched_name: 'weixin.qq.com', hosting: [{ ip: '203.0.113.9', country: 'CN', asn: 45090, org: 'Tencent' }] }),
  /* 4 */ makeEvent({ id: 4, ts: T0, app: TELEGRAM, qname: 'Venus.Web.Telegram.org', matched_name: 'telegram.org', action: 'exempt', exemption: 'press' }),
  /* 5 */ makeEvent({ id: 5, ts: T0 + HOUR, kind: 'query', app: null, group: null, qname: 'xtiktokv.com', matched_name: null, action: 'allow', rule: null, hosting: [] }),
  /* 6 */ makeEvent({
    id: 6,
    ts: T0 + 2 * HOUR,
    client: '10.64.0.9',
    qname: 'tiktokv.com',
    hosting: [
      { ip: '203.0.113.10', country: 'RU', asn: 64501, org: null },
      { ip: '203.0.113.11', country: 'CN', asn: 64502, org: null },
    ],
  }),
  /* 7 */ makeEvent({ id: 7, ts: T0 + 3 * HOUR, kind: 'residual', qname: 'tiktokv.com', hosting: [] }),
  /* 8 */ makeEvent({ id: 8, ts: T0 + 4 * HOUR, kind: 'bypass', app: null, qname: 'dns.google', matched_name: 'dns.google', action: 'monitor', rule: 'bypass', hosting: [{ ip: '8.8.8.8', country: 'US', asn: 15169, org: 'Google' }] }),
];

/** Every filter the API offers, alone and combined, with the ids it must return. */
const FILTERS: [string, Omit<EventFilter, 'limit'>, number[]][] = [
  ['nothing', {}, [8, 7, 6, 5, 4, 3, 2, 1]],
  ['kind', { kind: 'query' }, [5]],
  ['kind residual', { kind: 'residual' }, [7]],
  ['action', { action: 'block' }, [7, 6, 3, 1]],
  ['app', { app: 'wechat' }, [3]],
  ['app: events without an app never match', { app: 'tiktok' }, [7, 6, 2, 1]],
  ['group', { group: 'ministry' }, [8, 7, 6, 4, 3, 1]],
  ['client', { client: PSEUDONYM }, [2]],
  ['owner country', { owner_country: 'cn' }, [7, 6, 3, 2, 1]],
  ['attribution', { attribution: 'name' }, [7, 6, 4, 3, 2, 1]],
  ['hosting country', { hosting_country: 'CN' }, [6, 3]],
  ['hosting country of a bypass', { hosting_country: 'us' }, [8, 4, 2, 1]],
  ['qname and below', { qname: 'tiktokv.com' }, [7, 6, 2, 1]],
  ['qname, any case', { qname: 'TELEGRAM.org.' }, [4]],
  ['since (inclusive)', { since: T0 }, [8, 7, 6, 5, 4]],
  ['until (exclusive)', { until: T0 }, [3, 2, 1]],
  ['since and until', { since: T0 - 2 * HOUR, until: T0 + HOUR }, [4, 3, 2]],
  ['kind with since and until', { kind: 'detection', since: T0 - 2 * HOUR, until: T0 + 4 * HOUR }, [6, 4, 3, 2]],
  ['kind with until', { kind: 'residual', until: T0 + 4 * HOUR }, [7]],
  ['until with action', { action: 'block', until: T0 + 3 * HOUR + 1 }, [7, 6, 3, 1]],
  ['before_id', { before_id: 3 }, [2, 1]],
  ['combined', { action: 'block', hosting_country: 'CN', since: T0 }, [6]],
];

function columnsOf(db: Db, table: string): string[] {
  return (db.pragma(`table_info(${table})`) as { name: string }[]).map((column) => column.name);
}

/** Versions a released Wachtpost may have left a history at (1 was the first release). */
const OLD_VERSIONS = [1, 2, 3];

/**
 * A database at an older schema version, holding EVENTS, an inventory and a pseudonym pair.
 * Events get only the columns that version had, as its release wrote them: today's store
 * would also write the columns added since.
 */
function writeOldDatabase(version: number): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  for (const step of MIGRATIONS.slice(0, version)) db.exec(step);
  db.pragma(`user_version = ${version}`);
  const columns = columnsOf(db, 'events') as (keyof EventRow)[];
  const insertEvent = db.prepare(`INSERT INTO events (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
  const insertCountry = db.prepare('INSERT INTO event_countries (country, event_id) VALUES (?, ?)');
  const insertPseudonym = db.prepare('INSERT INTO pseudonyms (pseudonym, address, first_seen, last_seen) VALUES (?, ?, ?, ?)');
  const insertAudit = db.prepare('INSERT INTO audit (ts, principal, action, subject, reason, found) VALUES (?, ?, ?, ?, ?, ?)');
  db.transaction(() => {
    for (const event of EVENTS) {
      const row = toRow(event);
      insertEvent.run(columns.map((column) => row[column]));
      for (const country of hostingCountries(event)) insertCountry.run(country, event.id);
    }
    // The inventory as those versions kept it: by client, without the last address.
    const sighting = db.prepare(
      `INSERT INTO inventory (client, app_id, app_name, app_owner, app_owner_country, first_seen, last_seen, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (client, app_id) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen), count = count + excluded.count`,
    );
    for (const { app, kind, client, ts, count } of EVENTS) {
      if (app !== null && kind !== 'residual') sighting.run(client, app.id, app.name, app.owner, app.owner_country, ts, ts, count);
    }
    insertPseudonym.run(PSEUDONYM, '10.64.0.42', T0, T0 - 2 * HOUR);
    insertAudit.run(T0, 'root', 'resolve_pseudonym', PSEUDONYM, 'INC-1', 1);
    insertAudit.run(T0, 'root', 'resolve_pseudonym', 'p:ffffffffffffffffffffffff', 'INC-2', 0);
  })();
  db.close();
}

function indexes(db: Db): Record<string, string> {
  const rows = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name").all() as { name: string; sql: string }[];
  return Object.fromEntries(rows.map((row) => [row.name, row.sql]));
}

/** The statements a component prepares, captured as it prepares them. */
function preparedBy(db: Db, build: (db: Db) => unknown): string[] {
  const sql: string[] = [];
  const spy = new Proxy(db, {
    get(target, property) {
      if (property === 'prepare') {
        return (text: string) => {
          sql.push(text);
          return target.prepare(text);
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  build(spy);
  return sql;
}

function plan(db: Db, sql: string): string {
  const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => 1)) as { detail: string }[];
  return rows.map((row) => row.detail).join(' | ');
}

describe('schema migrations', () => {
  it.each(OLD_VERSIONS)('upgrades a version %i history in place: events, inventory and pseudonyms survive, and every filter works', async (version) => {
    writeOldDatabase(version);

    const history = History.open(historySettings(path), silentLog);
    expect(allEvents(history)).toEqual(EVENTS);
    // Rows from before count existed stand for one query each.
    expect(allEvents(history).map((event) => event.count)).toEqual(EVENTS.map(() => 1));
    for (const [name, filter, expected] of FILTERS) {
      expect(history.events({ limit: 100, ...filter }).items.map((event) => event.id), name).toEqual(expected);
    }
    expect(history.maxId()).toBe(8);
    expect(history.deviceApps(PSEUDONYM)).toMatchObject([{ id: 'tiktok', count: 1 }]);
    expect(history.resolvePseudonym(PSEUDONYM, 'admin', 'incident 42')).toBe('10.64.0.42');
    // Audit entries from before outcomes were kept get theirs from `found`.
    expect(history.audit(null, 10).items.map((entry) => [entry.reason, entry.found, entry.outcome])).toEqual([
      ['incident 42', true, 'disclosed'],
      ['INC-2', false, 'not_found'],
      ['INC-1', true, 'disclosed'],
    ]);
    const stats = history.stats('24h', T0 + 5 * HOUR);
    expect(stats.kinds).toEqual({ detection: 5, residual: 1, bypass: 1, query: 1 });
    expect(stats.actions).toEqual({ allow: 1, monitor: 2, block: 3, exempt: 1 });
    expect(stats.top_hosting_countries).toEqual([
      { country: 'US', count: 4 },
      { country: 'CN', count: 2 },
      { country: 'RU', count: 1 },
    ]);

    // New events land next to the migrated ones.
    history.writeEvents([makeEvent({ id: 9, ts: T0 + 5 * HOUR, group: null, app: null, action: 'allow', kind: 'query', count: 4 })]);
    expect(history.events({ limit: 100, kind: 'query' }).items.map((event) => [event.id, event.count])).toEqual([[9, 4], [5, 1]]);
    expect(history.events({ limit: 100, group: 'ministry', since: T0 + 4 * HOUR }).items.map((event) => event.id)).toEqual([8]);
    await history.close();

    const db = new Database(path);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    db.close();
  });

  it('purges a migrated history (expired events with their countries, stale inventory and pseudonyms)', async () => {
    writeOldDatabase(1);
    const history = History.open(historySettings(path), silentLog);
    const purged = await history.purge(T0 + 91 * DAY);
    expect(purged).toMatchObject({ detection: 5, residual: 1, bypass: 1, query: 1, inventory: 5, pseudonyms: 1 });
    expect(allEvents(history)).toEqual([]);
    expect(history.deviceApps('10.64.0.7')).toEqual([]);
    expect(history.resolvePseudonym(PSEUDONYM, 'admin', 'too late')).toBeNull();
    await history.close();
    const db = new Database(path);
    expect(db.prepare('SELECT count(*) FROM event_countries').pluck().get()).toBe(0);
    db.close();
  });

  it.each(OLD_VERSIONS)('ends with the same columns and indexes on a new and on a version %i history', (version) => {
    writeOldDatabase(version);
    const migrated = openDatabase(path);
    const fresh = openDatabase(join(path, '..', 'fresh.sqlite'));
    expect(columnsOf(migrated, 'events')).toEqual(columnsOf(fresh, 'events'));
    expect(columnsOf(fresh, 'events').at(-1)).toBe('device');
    expect(indexes(migrated)).toEqual(indexes(fresh));
    expect(Object.keys(indexes(fresh))).toEqual([
      'audit_ts',
      'event_countries_event',
      'events_action',
      'events_app',
      'events_attribution',
      'events_client',
      'events_device',
      'events_group',
      'events_kind_ts',
      'events_owner_country',
      'events_qname',
    ]);
    expect(indexes(fresh)['events_app']).toMatch(/WHERE app_id IS NOT NULL$/);
    expect(indexes(fresh)['events_owner_country']).toMatch(/\(owner_country, id\) WHERE owner_country IS NOT NULL$/);
    migrated.close();
    fresh.close();
  });

  it('refuses a history written by a newer version', () => {
    const db = new Database(path);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => openDatabase(path)).toThrow(/is newer than this Wachtpost understands/);
  });
});

describe('query plans', () => {
  let db: Db;
  beforeEach(() => {
    db = openDatabase(path);
  });
  afterEach(() => db.close());

  /** Filters that may read the table in id order: they stop at the page's end. */
  const SCANNED = new Set(['nothing', 'since (inclusive)', 'before_id']);

  it.each(FILTERS.filter(([name]) => !SCANNED.has(name)))('an index serves the filter on %s', (_name, filter) => {
    const [sql] = preparedBy(db, (spy) => new EventQueries(spy).find({ limit: 10, ...filter }));
    expect(plan(db, sql!)).not.toMatch(/SCAN events/);
  });

  it('the (kind, ts) index serves time ranges without a kind', () => {
    const [sql] = preparedBy(db, (spy) => new EventQueries(spy).find({ limit: 10, since: T0, until: T0 + HOUR }));
    expect(plan(db, sql!)).toMatch(/USING (COVERING )?INDEX events_kind_ts \(kind=\? AND ts>\? AND ts<\?\)/);
  });

  it('every statistic reads an index range, never the whole table, for everyone and for one client or device', () => {
    const statements = preparedBy(db, (spy) => {
      const stats = new StatsQueries(spy);
      for (const scope of [null, { client: '10.0.0.1' }, { device: 'phone-7' }]) stats.compute('24h', T0, scope);
    });
    expect(statements).toHaveLength(21);
    for (const sql of statements) expect(plan(db, sql), sql).toMatch(/^SEARCH e(vents)? USING (COVERING )?INDEX events_(kind_ts|action|client|device)/);
  });

  it('the purge finds expired events of a kind by index', () => {
    const statements = preparedBy(db, (spy) => new Purger(spy, historySettings(path).retention_days));
    const expired = statements.find((sql) => sql.startsWith('SELECT id FROM events'))!;
    expect(plan(db, expired)).toBe('SEARCH events USING COVERING INDEX events_kind_ts (kind=? AND ts<?)');
  });
});
