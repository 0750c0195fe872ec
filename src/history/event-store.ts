import type { Database, Statement } from 'better-sqlite3';
import type { DetectionEvent } from '../events/detection-event.js';
import { EVENT_COLUMNS, hostingCountries, toValues, type EventRow } from './event-row.js';
import type { DeviceAddresses } from './device-addresses.js';
import type { Inventory } from './inventory.js';
import type { PseudonymStore } from './pseudonyms.js';

/**
 * Writes a batch of events in one transaction: the event rows, their hosting countries,
 * the device inventory and addresses, pseudonym sightings and the id high-water mark. Either all of it
 * lands or none, and ids already stored are skipped, so any batch can simply be written
 * again.
 */
export class EventStore {
  private readonly insertEvent: Statement<EventRow[keyof EventRow][]>;
  private readonly insertCountry: Statement<[string, number]>;
  private readonly raiseMaxId: Statement<[number]>;
  private readonly highest: Statement<[], { id: number }>;
  private readonly transaction: (events: readonly DetectionEvent[]) => number;

  constructor(
    db: Database,
    private readonly inventory: Inventory,
    private readonly addresses: DeviceAddresses,
    private readonly pseudonyms: PseudonymStore,
  ) {
    this.insertEvent = db.prepare(
      `INSERT INTO events (${EVENT_COLUMNS.join(', ')}) VALUES (${EVENT_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (id) DO NOTHING`,
    );
    this.insertCountry = db.prepare('INSERT INTO event_countries (country, event_id) VALUES (?, ?)');
    // Kept apart from max(events.id): once a purge empties the table, ids must still not repeat.
    this.raiseMaxId = db.prepare(
      `INSERT INTO meta (key, value) VALUES ('max_id', ?) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)`,
    );
    this.highest = db.prepare(
      `SELECT max(coalesce((SELECT value FROM meta WHERE key = 'max_id'), 0), coalesce((SELECT max(id) FROM events), 0)) AS id`,
    );
    this.transaction = db.transaction((events: readonly DetectionEvent[]) => {
      // An id already stored is a re-delivery (a replayed stream entry): it must not count twice.
      const fresh = events.filter((event) => this.insertEvent.run(...toValues(event)).changes > 0);
      for (const event of fresh) {
        if (event.hosting.length === 0) continue; // most events (blocks) have no addresses
        for (const country of hostingCountries(event)) this.insertCountry.run(country, event.id);
      }
      this.inventory.write(fresh);
      this.addresses.write(fresh);
      this.pseudonyms.write(fresh);
      if (fresh.length > 0) this.raiseMaxId.run(fresh.reduce((max, event) => Math.max(max, event.id), 0));
      return fresh.length;
    });
  }

  /** True when something besides events waits to be written. */
  get hasPending(): boolean {
    return this.pseudonyms.hasPending;
  }

  /**
   * Stores the events not stored yet and returns how many that were. Throws (and leaves
   * nothing half-written) when the database refuses the write.
   */
  write(events: readonly DetectionEvent[]): number {
    const stored = this.transaction(events);
    this.pseudonyms.committed();
    return stored;
  }

  /** The highest event id ever stored (0 for a new history). */
  maxId(): number {
    return this.highest.get()!.id;
  }
}
