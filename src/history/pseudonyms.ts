import type { Database, Statement } from 'better-sqlite3';
import type { DetectionEvent } from '../events/detection-event.js';
import { PSEUDONYM_PREFIX } from '../events/pseudonymiser.js';
import type { AuditLog } from './audit.js';

/**
 * Which address each pseudonym stands for, so an administrator can re-identify a device
 * (a lost phone, an incident) and nobody else can. New pairs wait in memory and go to disk
 * in the event writer's next transaction: the pseudonymiser reports them on the publishing
 * path, which must not wait for the disk.
 */
export class PseudonymStore {
  private readonly pending = new Map<string, { address: string; seen: number }>();
  private readonly upsert: Statement<[{ pseudonym: string; address: string; seen: number }]>;
  private readonly touch: Statement<[number, string]>;
  private readonly lookup: Statement<[string], { address: string }>;

  constructor(
    db: Database,
    private readonly audit: AuditLog,
    private readonly now: () => number = Date.now,
  ) {
    this.upsert = db.prepare(
      `INSERT INTO pseudonyms (pseudonym, address, first_seen, last_seen) VALUES (@pseudonym, @address, @seen, @seen)
       ON CONFLICT (pseudonym) DO UPDATE SET address = excluded.address, last_seen = max(last_seen, excluded.last_seen)`,
    );
    this.touch = db.prepare('UPDATE pseudonyms SET last_seen = max(last_seen, ?) WHERE pseudonym = ?');
    this.lookup = db.prepare('SELECT address FROM pseudonyms WHERE pseudonym = ?');
  }

  remember(pseudonym: string, address: string): void {
    this.pending.set(pseudonym, { address, seen: this.now() });
  }

  get hasPending(): boolean {
    return this.pending.size > 0;
  }

  /**
   * Inside the writer's transaction: stores the pending pairs and moves `last_seen` of the
   * batch's pseudonyms forward (the purge forgets pairs unseen for the retention period).
   * The pending pairs stay pending until `committed()`, so a failed write retries them.
   */
  write(events: readonly DetectionEvent[]): void {
    for (const [pseudonym, { address, seen }] of this.pending) this.upsert.run({ pseudonym, address, seen });
    const lastSeen = new Map<string, number>();
    for (const event of events) {
      if (event.client.startsWith(PSEUDONYM_PREFIX)) lastSeen.set(event.client, Math.max(event.ts, lastSeen.get(event.client) ?? 0));
    }
    for (const [pseudonym, ts] of lastSeen) this.touch.run(ts, pseudonym);
  }

  committed(): void {
    this.pending.clear();
  }

  /**
   * The address behind `pseudonym`, or null. Every call is audited, found or not; when the
   * audit entry cannot be stored this throws and discloses nothing.
   */
  resolve(pseudonym: string, principal: string, reason: string): string | null {
    const address = this.lookup.get(pseudonym)?.address ?? this.pending.get(pseudonym)?.address ?? null;
    this.audit.record({ ts: this.now(), principal, action: 'resolve_pseudonym', subject: pseudonym, reason, outcome: address === null ? 'not_found' : 'disclosed' });
    return address;
  }

  /** Audits an attempt by someone who may not re-identify; nothing is looked up. Throws when it cannot be stored. */
  refused(pseudonym: string, principal: string, reason: string): void {
    this.audit.record({ ts: this.now(), principal, action: 'resolve_pseudonym', subject: pseudonym, reason, outcome: 'refused' });
  }
}
