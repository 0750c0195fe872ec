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
  /** The device id when the transport identified the device, else its address (or their pseudonyms). */
  client: string;
  /** The address it last asked from (for a device id; the same as `client` otherwise). */
  last_address: string | null;
  apps: number;
  last_seen: number;
}

interface Sighting extends InventoryApp {
  client: string;
  last_address: string;
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
      `INSERT INTO inventory (client, app_id, app_name, app_owner, app_owner_country, first_seen, last_seen, count, last_address)
       VALUES (@client, @id, @name, @owner, @owner_country, @first_seen, @last_seen, @count, @last_address)
       ON CONFLICT (client, app_id) DO UPDATE SET
         last_address = CASE WHEN excluded.last_seen >= last_seen THEN excluded.last_address ELSE last_address END,
         app_name = excluded.app_name, app_owner = excluded.app_owner, app_owner_country = excluded.app_owner_country,
         first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen),
         count = count + excluded.count`,
    );
    this.appsOf = db.prepare(
      `SELECT app_id AS id, app_name AS name, app_owner AS owner, app_owner_country AS owner_country, first_seen, last_seen, count
       FROM inventory WHERE client = ? ORDER BY last_seen DESC`,
    );
    this.summaries = db.prepare(
      // SQLite takes the bare column from the row holding max(): the address of the latest sighting.
      'SELECT client, last_address, count(*) AS apps, max(last_seen) AS last_seen FROM inventory GROUP BY client ORDER BY last_seen DESC LIMIT ?',
    );
  }

  /** Inside the writer's transaction: folds the batch into the inventory. */
  write(events: readonly DetectionEvent[]): void {
    const sightings = new Map<string, Sighting>();
    for (const event of events) {
      if (event.app === null || event.kind === 'residual') continue;
      // Keyed by the device when known: a pool address moves from phone to phone.
      const device = event.device ?? event.client;
      const key = `${device} ${event.app.id}`;
      const seen = sightings.get(key);
      if (seen === undefined) {
        const { id, name, owner, owner_country } = event.app;
        sightings.set(key, {
          client: device,
          last_address: event.client,
          id,
          name,
          owner,
          owner_country,
          first_seen: event.ts,
          last_seen: event.ts,
          count: event.count,
        });
      } else {
        seen.first_seen = Math.min(seen.first_seen, event.ts);
        if (event.ts >= seen.last_seen) seen.last_address = event.client;
        seen.last_seen = Math.max(seen.last_seen, event.ts);
        seen.count += event.count;
      }
    }
    for (const sighting of sightings.values()) this.upsert.run(sighting);
  }

  /** The apps seen on `client` (a device id, an address or a pseudonym), most recent first. */
  apps(client: string): InventoryApp[] {
    return this.appsOf.all(client);
  }

  /** Devices by most recent activity, with how many apps each has shown. */
  devices(limit: number): DeviceSummary[] {
    return this.summaries.all(limit);
  }
}
