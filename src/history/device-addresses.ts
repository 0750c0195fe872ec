import type { Database, Statement } from 'better-sqlite3';
import type { DetectionEvent } from '../events/detection-event.js';

/** One address a device asked from, and when. */
export interface DeviceAddress {
  address: string;
  first_seen: number;
  last_seen: number;
  /** Queries from the device at this address. */
  count: number;
}

interface Sighting extends DeviceAddress {
  device: string;
}

/**
 * The addresses each identified device asked from over time (a VPN pool address, a
 * mobile network's, a home network's), one row per device and address, kept up to date as
 * events are written, so "where was this phone when it ran TikTok" is a key look-up.
 */
export class DeviceAddresses {
  private readonly upsert: Statement<[Sighting]>;
  private readonly of: Statement<[string], DeviceAddress>;

  constructor(db: Database) {
    this.upsert = db.prepare(
      `INSERT INTO device_addresses (device, address, first_seen, last_seen, count) VALUES (@device, @address, @first_seen, @last_seen, @count)
       ON CONFLICT (device, address) DO UPDATE SET
         first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen), count = count + excluded.count`,
    );
    this.of = db.prepare('SELECT address, first_seen, last_seen, count FROM device_addresses WHERE device = ? ORDER BY last_seen DESC');
  }

  /** Inside the writer's transaction: one upsert per device and address of the batch. */
  write(events: readonly DetectionEvent[]): void {
    const sightings = new Map<string, Sighting>();
    for (const event of events) {
      if (event.device === null) continue;
      const key = `${event.device} ${event.client}`;
      const seen = sightings.get(key);
      if (seen === undefined) {
        sightings.set(key, { device: event.device, address: event.client, first_seen: event.ts, last_seen: event.ts, count: event.count });
      } else {
        seen.first_seen = Math.min(seen.first_seen, event.ts);
        seen.last_seen = Math.max(seen.last_seen, event.ts);
        seen.count += event.count;
      }
    }
    for (const sighting of sightings.values()) this.upsert.run(sighting);
  }

  /** The addresses `device` asked from, most recent first. */
  addresses(device: string): DeviceAddress[] {
    return this.of.all(device);
  }
}
