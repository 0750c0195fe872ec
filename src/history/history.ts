import { statSync } from 'node:fs';
import type { Database } from 'better-sqlite3';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { DetectionEvent } from '../events/detection-event.js';
import type { EventHub } from '../events/event-hub.js';
import { AuditLog, type AuditEntry } from './audit.js';
import { openDatabase } from './database.js';
import { EventQueries, type EventFilter } from './event-queries.js';
import { EventStore } from './event-store.js';
import { EventWriter, type WriterCounters } from './event-writer.js';
import { FailureLog } from '../logging/failure-log.js';
import type { IdStore } from '../events/id-store.js';
import { IdReservation } from './id-reservation.js';
import { DeviceAddresses, type DeviceAddress } from './device-addresses.js';
import { Inventory, type DeviceSummary, type InventoryApp } from './inventory.js';
import type { Page } from './page.js';
import { PseudonymStore } from './pseudonyms.js';
import { Purger, type PurgeCounts } from './purge.js';
import { StatsQueries, type Stats, type StatsScope, type StatsWindow } from './stats.js';
import { ExposureQueries, type Exposure } from './exposure.js';

export { ATTRIBUTIONS, EVENT_KINDS, type Attribution } from '../events/detection-event.js';
export { ACTIONS } from '../pipeline/action.js';
export type { EventFilter } from './event-queries.js';
export type { AuditEntry } from './audit.js';
export type { DeviceSummary, InventoryApp } from './inventory.js';
export type { DeviceAddress } from './device-addresses.js';
export type { Exposure, GroupExposure } from './exposure.js';
export type { Page } from './page.js';
export type { PurgeCounts } from './purge.js';
export { STATS_WINDOWS, type Stats, type StatsScope, type StatsWindow } from './stats.js';

export interface HistoryCounters extends WriterCounters {
  /** Write transactions the database refused (each is retried). */
  failures: number;
  /** Events in the hub's ring not yet written. */
  backlog: number;
}

/**
 * Event history in SQLite: the hub's events, a per-device app inventory, pseudonym pairs
 * and the audit trail of their use, each kept for its configured retention. Writing never
 * holds up the hub or DNS: failures degrade the history (see `degraded()`), nothing else.
 */
export class History {
  private readonly log: Logger;
  private readonly writeFailures: FailureLog;
  private readonly purgeFailures: FailureLog;
  private readonly inventory: Inventory;
  private readonly deviceAddresses: DeviceAddresses;
  private readonly pseudonyms: PseudonymStore;
  private readonly auditLog: AuditLog;
  private readonly store: EventStore;
  private readonly writer: EventWriter;
  private readonly queries: EventQueries;
  private readonly statsQueries: StatsQueries;
  private readonly exposureQueries: ExposureQueries;
  private readonly purger: Purger;
  private readonly purgeTimer: NodeJS.Timeout;
  /** The hub's id reservation (`reserved_until`), kept with the events. */
  readonly ids: IdStore;
  private purging: Promise<PurgeCounts | null> | null = null;
  private closed = false;

  /** Opens or creates the file (and its directory); throws an Error naming the path if it is unusable. */
  static open(settings: Config['history'], log: Logger): History {
    return new History(openDatabase(settings.path), settings, log);
  }

  private constructor(
    private readonly db: Database,
    settings: Config['history'],
    log: Logger,
  ) {
    this.log = log.child({ component: 'history' });
    this.writeFailures = new FailureLog(this.log, 'history write');
    this.purgeFailures = new FailureLog(this.log, 'history purge');
    this.auditLog = new AuditLog(db);
    this.pseudonyms = new PseudonymStore(db, this.auditLog);
    this.inventory = new Inventory(db);
    this.deviceAddresses = new DeviceAddresses(db);
    this.store = new EventStore(db, this.inventory, this.deviceAddresses, this.pseudonyms);
    this.writer = new EventWriter(this.store, this.writeFailures);
    this.queries = new EventQueries(db);
    this.statsQueries = new StatsQueries(db);
    this.exposureQueries = new ExposureQueries(db);
    this.purger = new Purger(db, settings.retention_days);
    this.ids = new IdReservation(db, new FailureLog(this.log, 'event id reservation'));
    this.purgeTimer = setInterval(() => void this.purge(), settings.purge_interval_s * 1000).unref();
  }

  /** Highest event id stored (0 when empty), so a restarted hub continues after it. */
  maxId(): number {
    return this.store.maxId();
  }

  /** Starts writing every event the hub publishes. */
  attach(hub: EventHub): void {
    this.writer.attach(hub);
  }

  /**
   * Writes events handed over by another source (a shared stream's consumer) in one
   * transaction; ids already stored are skipped. Throws when the write failed, so the
   * source can keep the events and offer them again.
   */
  writeEvents(events: readonly DetectionEvent[]): void {
    this.writer.write(events);
  }

  /** Records which address a pseudonym stands for (readable by admins only, audited). */
  rememberPseudonym(pseudonym: string, address: string): void {
    this.pseudonyms.remember(pseudonym, address);
    this.writer.nudge();
  }

  /** Why the history cannot be written (or purged) right now, or null. */
  degraded(): string | null {
    return this.writeFailures.reason ?? this.purgeFailures.reason;
  }

  get counters(): HistoryCounters {
    return { ...this.writer.counters, failures: this.writeFailures.count, backlog: this.writer.backlog() };
  }

  /** Bytes of the database file and its write-ahead log, as the disk holds them now. */
  sizeBytes(): number {
    return [this.db.name, `${this.db.name}-wal`].reduce((total, path) => total + (statSync(path, { throwIfNoEntry: false })?.size ?? 0), 0);
  }

  events(filter: EventFilter): Page<DetectionEvent> {
    return this.queries.find(filter);
  }

  stats(window: StatsWindow, now = Date.now(), scope: StatsScope = null): Stats {
    return this.statsQueries.compute(window, now, scope);
  }

  /** Per group over the last `days` and the days before: devices, watch-listed use, actions. */
  exposure(days: number, now = Date.now()): Exposure {
    return this.exposureQueries.compute(days, now);
  }

  deviceApps(client: string): InventoryApp[] {
    return this.inventory.apps(client);
  }

  devices(limit: number): DeviceSummary[] {
    return this.inventory.devices(limit);
  }

  /** The addresses an identified device asked from, most recent first. */
  addressesOf(device: string): DeviceAddress[] {
    return this.deviceAddresses.addresses(device);
  }

  /**
   * The address behind a pseudonym, or null; always audited under `principal` (a name,
   * never a token). Throws, disclosing nothing, when the audit entry cannot be stored.
   */
  resolvePseudonym(pseudonym: string, principal: string, reason: string): string | null {
    const address = this.pseudonyms.resolve(pseudonym, principal, reason);
    this.log.info({ principal, pseudonym, found: address !== null }, 'pseudonym resolution');
    return address;
  }

  /**
   * Audits an attempt to re-identify by a principal without the right (an analyst), so the
   * trail shows tries as well as disclosures. Throws when the entry cannot be stored.
   */
  refusePseudonym(pseudonym: string, principal: string, reason: string): void {
    this.pseudonyms.refused(pseudonym, principal, reason);
    this.log.warn({ principal, pseudonym }, 'pseudonym resolution refused: admin role needed');
  }

  audit(beforeId: number | null, limit: number): Page<AuditEntry> {
    return this.auditLog.page(beforeId, limit);
  }

  /** Deletes what outlived its retention (also runs every purge_interval_s); null if it failed. */
  purge(now = Date.now()): Promise<PurgeCounts | null> {
    if (this.closed) return Promise.resolve(null);
    this.purging ??= this.purger.run(now, () => this.closed).then(
      (purged) => {
        this.purgeFailures.succeeded();
        if (Object.values(purged).some((count) => count > 0)) this.log.info({ purged }, 'expired history purged');
        return purged;
      },
      (error: unknown) => {
        this.purgeFailures.failed(error);
        return null;
      },
    ).finally(() => {
      this.purging = null;
    });
    return this.purging;
  }

  /** Writes what is pending (everything the hub's ring still holds) and closes the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.purgeTimer);
    await this.purging;
    const unwritten = this.writer.close();
    if (unwritten > 0) this.log.error({ unwritten, reason: this.writeFailures.reason }, 'history closed with events it could not write');
    this.db.close();
  }
}
