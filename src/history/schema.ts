import type { Database } from 'better-sqlite3';

/**
 * The history's tables, as migrations applied in order; `PRAGMA user_version` records how
 * many ran. Append new steps, never edit a released one.
 */
export const MIGRATIONS: readonly string[] = [
  `
  -- High-water marks that must survive a purge (the last event id, so ids never repeat).
  CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;

  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    kind TEXT NOT NULL,
    instance TEXT NOT NULL,
    client TEXT NOT NULL,
    grp TEXT,
    qname TEXT NOT NULL,
    -- Lower-cased labels in reverse order ("com.example.www"): a name and everything below
    -- it form one index range.
    qname_rev TEXT NOT NULL,
    qtype TEXT NOT NULL,
    rcode TEXT NOT NULL,
    app_id TEXT,
    app_name TEXT,
    app_owner TEXT,
    app_owner_country TEXT,
    matched_name TEXT,
    hosting TEXT NOT NULL,
    owner_watchlisted INTEGER NOT NULL,
    hosting_watchlisted INTEGER NOT NULL,
    action TEXT NOT NULL,
    rule TEXT,
    exemption TEXT,
    latency_ms REAL NOT NULL,
    cached INTEGER NOT NULL
  );
  CREATE INDEX events_ts ON events (ts);
  CREATE INDEX events_kind_ts ON events (kind, ts);
  CREATE INDEX events_client ON events (client, id);
  CREATE INDEX events_app ON events (app_id, id);
  CREATE INDEX events_action ON events (action, id);
  CREATE INDEX events_group ON events (grp, id);
  CREATE INDEX events_owner_country ON events (app_owner_country, id);
  CREATE INDEX events_qname ON events (qname_rev);

  -- Each distinct hosting country of an event, for filtering and counting by country.
  CREATE TABLE event_countries (
    country TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    PRIMARY KEY (country, event_id)
  ) WITHOUT ROWID;
  CREATE INDEX event_countries_event ON event_countries (event_id);

  CREATE TABLE inventory (
    client TEXT NOT NULL,
    app_id TEXT NOT NULL,
    app_name TEXT NOT NULL,
    app_owner TEXT NOT NULL,
    app_owner_country TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (client, app_id)
  ) WITHOUT ROWID;
  CREATE INDEX inventory_last_seen ON inventory (last_seen);

  CREATE TABLE pseudonyms (
    pseudonym TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX pseudonyms_last_seen ON pseudonyms (last_seen);

  CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    principal TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    reason TEXT NOT NULL,
    found INTEGER NOT NULL
  );
  CREATE INDEX audit_ts ON audit (ts);
  `,
  `
  -- Cheaper writes (bench/history/write.bench.ts); every query keeps an index:
  -- events_kind_ts serves time ranges (queries name the kinds: kind IN (...) AND ts ...).
  DROP INDEX events_ts;
  -- Only events that have the value can match a filter on it (app_id = ? implies IS NOT NULL).
  DROP INDEX events_app;
  CREATE INDEX events_app ON events (app_id, id) WHERE app_id IS NOT NULL;
  DROP INDEX events_group;
  CREATE INDEX events_group ON events (grp, id) WHERE grp IS NOT NULL;
  DROP INDEX events_owner_country;
  CREATE INDEX events_owner_country ON events (app_owner_country, id) WHERE app_owner_country IS NOT NULL;
  -- Every write moves last_seen; only the hourly purge reads it, and a scan of these
  -- small tables (a row per device and app, per pseudonym) costs it less.
  DROP INDEX inventory_last_seen;
  DROP INDEX pseudonyms_last_seen;
  `,
  `
  -- Queries an event stands for (repeats folded into one event); older rows stand for one each.
  ALTER TABLE events ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
  `,
  `
  -- What came of an attempt: refused attempts (a non-admin asking) are audited too.
  ALTER TABLE audit ADD COLUMN outcome TEXT NOT NULL DEFAULT 'not_found';
  UPDATE audit SET outcome = 'disclosed' WHERE found = 1;
  `,
  `
  -- How an event was tied to an owner ('name': a catalogue rule, 'network': an answer inside
  -- the owner's own network) and that owner; older rows were tied by name only, to their app's.
  ALTER TABLE events ADD COLUMN attribution TEXT;
  ALTER TABLE events ADD COLUMN owner_name TEXT;
  ALTER TABLE events ADD COLUMN owner_country TEXT;
  UPDATE events SET attribution = 'name', owner_name = app_owner, owner_country = app_owner_country WHERE app_id IS NOT NULL;
  -- The owner-country filter and statistics now read the owner, whichever way it was found.
  DROP INDEX events_owner_country;
  CREATE INDEX events_owner_country ON events (owner_country, id) WHERE owner_country IS NOT NULL;
  CREATE INDEX events_attribution ON events (attribution, id) WHERE attribution IS NOT NULL;
  `,
  `
  -- The device that asked, when the transport identified it (encrypted DNS); older rows have none.
  ALTER TABLE events ADD COLUMN device TEXT;
  CREATE INDEX events_device ON events (device, id) WHERE device IS NOT NULL;
  -- The inventory is kept per device when known (client then holds the device id), and
  -- remembers the address it last came from.
  ALTER TABLE inventory ADD COLUMN last_address TEXT;
  `,
  `
  -- The addresses each identified device asked from over time (VPN sessions, mobile networks).
  CREATE TABLE device_addresses (
    device TEXT NOT NULL,
    address TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (device, address)
  ) WITHOUT ROWID;
  `,
];

/** Brings the database up to the current schema; refuses one written by a newer version. */
export function migrate(db: Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new Error(`schema version ${version} is newer than this Wachtpost understands (${MIGRATIONS.length})`);
  }
  db.transaction(() => {
    for (const step of MIGRATIONS.slice(version)) db.exec(step);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  })();
}
