import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Database, Statement } from 'better-sqlite3';
import type { Config } from '../config/schema.js';
import type { EventKind } from '../events/detection-event.js';
import { EVENT_KINDS } from '../events/detection-event.js';

const DAY_MS = 86_400_000;
/** Events deleted per transaction; the loop yields between chunks so the feed keeps flowing. */
const CHUNK = 5000;

/** Rows removed by one purge. */
export type PurgeCounts = Record<EventKind | 'audit' | 'inventory' | 'device_addresses' | 'pseudonyms', number>;

/**
 * Deletes what is older than its retention: events per kind, audit entries, and inventory
 * rows, device addresses and pseudonym pairs unseen for the detection retention (the longest-lived personal
 * data should not outlive the events that justify it).
 */
export class Purger {
  private readonly expired: Statement<[EventKind, number, number], number>;
  private readonly deleteChunk: (ids: string) => number;
  private readonly audit: Statement<[number]>;
  private readonly inventory: Statement<[number]>;
  private readonly deviceAddresses: Statement<[number]>;
  private readonly pseudonyms: Statement<[number]>;

  constructor(
    private readonly db: Database,
    private readonly retention: Config['history']['retention_days'],
  ) {
    this.expired = db.prepare<[EventKind, number, number], number>('SELECT id FROM events WHERE kind = ? AND ts < ? LIMIT ?').pluck();
    const countries = db.prepare('DELETE FROM event_countries WHERE event_id IN (SELECT value FROM json_each(?))');
    const events = db.prepare('DELETE FROM events WHERE id IN (SELECT value FROM json_each(?))');
    this.deleteChunk = db.transaction((ids: string) => {
      countries.run(ids);
      return events.run(ids).changes;
    });
    this.audit = db.prepare('DELETE FROM audit WHERE ts < ?');
    this.inventory = db.prepare('DELETE FROM inventory WHERE last_seen < ?');
    this.deviceAddresses = db.prepare('DELETE FROM device_addresses WHERE last_seen < ?');
    this.pseudonyms = db.prepare('DELETE FROM pseudonyms WHERE last_seen < ?');
  }

  /** Purges everything expired at `now`; stops early (between chunks) once `stopped()` says so. */
  async run(now: number, stopped: () => boolean): Promise<PurgeCounts> {
    const detectionCutoff = now - this.retention.detection * DAY_MS;
    const purged: PurgeCounts = {
      detection: 0,
      residual: 0,
      bypass: 0,
      query: 0,
      audit: this.audit.run(now - this.retention.audit * DAY_MS).changes,
      inventory: this.inventory.run(detectionCutoff).changes,
      device_addresses: this.deviceAddresses.run(detectionCutoff).changes,
      pseudonyms: this.pseudonyms.run(detectionCutoff).changes,
    };
    for (const kind of EVENT_KINDS) {
      const cutoff = now - this.retention[kind] * DAY_MS;
      for (;;) {
        const ids = this.expired.all(kind, cutoff, CHUNK);
        if (ids.length > 0) purged[kind] += this.deleteChunk(JSON.stringify(ids));
        if (ids.length < CHUNK) break;
        await nextTurn();
        if (stopped()) return purged;
      }
    }
    // Large deletes change the tables' shape; SQLite advises this on long-lived connections.
    this.db.pragma('optimize');
    return purged;
  }
}
