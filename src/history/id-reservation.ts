import type { Database, Statement } from 'better-sqlite3';
import type { IdStore } from '../events/id-store.js';
import type { FailureLog } from '../logging/failure-log.js';

/**
 * The hub's id reservation in the history's `meta` table (`reserved_until`). Each write is
 * its own transaction committed with `synchronous=FULL`, so it is on disk before the ids it
 * covers are handed out, even across a power cut; event writes keep the cheaper NORMAL.
 */
export class IdReservation implements IdStore {
  private readonly read: Statement<[], { value: number }>;
  private readonly store: Statement<[number]>;

  constructor(
    private readonly db: Database,
    private readonly failures: FailureLog,
  ) {
    this.read = db.prepare(`SELECT value FROM meta WHERE key = 'reserved_until'`);
    this.store = db.prepare(`INSERT INTO meta (key, value) VALUES ('reserved_until', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`);
  }

  reserved(): number {
    return this.read.get()?.value ?? 0;
  }

  reserve(through: number): void {
    if (through > this.reserved()) this.write(through);
  }

  release(lastUsed: number): void {
    this.write(lastUsed);
  }

  degraded(): string | null {
    return this.failures.reason;
  }

  private write(value: number): void {
    try {
      this.db.pragma('synchronous = FULL');
      try {
        this.store.run(value);
      } finally {
        this.db.pragma('synchronous = NORMAL');
      }
      this.failures.succeeded();
    } catch (error) {
      this.failures.failed(error);
    }
  }
}
