import type { Database, Statement } from 'better-sqlite3';
import type { DetectionEvent } from '../events/detection-event.js';

/** One app seen on one device. */
export interface InventoryApp {
  id: string;
  name: string;
  owner: string;
  owner_country: string;
  first_seen: number;
  last_seen: number;
  /** Queries for this app from this device (residual events not counted: they repeat a block). */
  count: number;
}

export interface DeviceSummary {
  client: string;
  apps: number;
  last_seen: number;
}

interface Sighting extends InventoryApp {
  client: string;
}

/**
 * Per-device app inventory, kept up to date as events are written (one upsert per device
 * and app per batch), so "what runs on this phone" is a key look-up rather than a scan of
 * the history.
 */
export class Inventory {
  private readonly upsert: Statement<[Sighting]>;
  private readonly appsOf: Statement<[string], InventoryApp>;
  private readonly summaries: Statement<[number], DeviceSummary>;

  constructor(db: Database) {
    this.upsert = db.prepare(
      `INSERT INTO inventory (client, app_id, app_name, app_owner, app_owner_country, first_seen, last_seen, count)
       VALUES (@client, @id, @name, @owner, @owner_country, @first_seen, @last_seen, @count)
       ON CONFLICT (client, app_id) DO UPDATE SET
         app_name = excluded.app_name, app_owner = excluded.app_owner, app_owner_country = excluded.app_owner_country,
         first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen),
         count = count + excluded.count`,
    );
    this.appsOf = db.prepare(
      `SELECT app_id AS id, app_name AS name, app_owner AS owner, app_owner_country AS owner_country, first_seen, last_seen, count
       FROM inventory WHERE client = ? ORDER BY last_seen DESC`,
    );
    this.summaries = db.prepare(
      'SELECT client, count(*) AS apps, max(last_seen) AS last_seen FROM inventory GROUP BY client ORDER BY last_seen DESC LIMIT ?',
    );
  }

  /** Inside the writer's transaction: folds the batch into the inventory. */
  write(events: readonly DetectionEvent[]): void {
    const sightings = new Map<string, Sighting>();
    for (const event of events) {
      if (event.app === null || event.kind === 'residual') continue;
      const key = `${event.client} ${event.app.id}`;
      const seen = sightings.get(key);
      if (seen === undefined) {
        const { id, name, owner, owner_country } = event.app;
        sightings.set(key, { client: event.client, id, name, owner, owner_country, first_seen: event.ts, last_seen: event.ts, count: event.count });
      } else {
        seen.first_seen = Math.min(seen.first_seen, event.ts);
        seen.last_seen = Math.max(seen.last_seen, event.ts);
        seen.count += event.count;
      }
    }
    for (const sighting of sightings.values()) this.upsert.run(sighting);
  }

  /** The apps seen on `client` (an address or a pseudonym), most recent first. */
  apps(client: string): InventoryApp[] {
    return this.appsOf.all(client);
  }

  /** Devices by most recent activity, with how many apps each has shown. */
  devices(limit: number): DeviceSummary[] {
    return this.summaries.all(limit);
  }
}
