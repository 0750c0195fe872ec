import type { Database, Statement } from 'better-sqlite3';
import { pageOf, type Page } from './page.js';

/** What came of an attempt to re-identify a device. */
export type AuditOutcome = 'disclosed' | 'not_found' | 'refused';

/** One attempt at an action on personal data, allowed or not, kept for `history.retention_days.audit`. */
export interface AuditEntry {
  id: number;
  ts: number;
  /** The token holder's name (never the token). */
  principal: string;
  action: 'resolve_pseudonym';
  /** What was looked up: the pseudonym. */
  subject: string;
  reason: string;
  /** Whether an address was found (and so disclosed). */
  found: boolean;
  /** disclosed, not_found, or refused (the caller may not re-identify: nothing was looked up). */
  outcome: AuditOutcome;
}

interface AuditRow extends Omit<AuditEntry, 'found'> {
  found: number;
}

/** The append-only trail of who re-identified (or tried to re-identify) which device, when and why. */
export class AuditLog {
  private readonly insert: Statement<[number, string, string, string, string, number, AuditOutcome]>;
  private readonly list: Statement<[number, number], AuditRow>;

  constructor(db: Database) {
    this.insert = db.prepare('INSERT INTO audit (ts, principal, action, subject, reason, found, outcome) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.list = db.prepare('SELECT id, ts, principal, action, subject, reason, found, outcome FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?');
  }

  /** Throws when the entry cannot be stored, so the caller can refuse to disclose anything. */
  record(entry: Omit<AuditEntry, 'id' | 'found'>): void {
    this.insert.run(entry.ts, entry.principal, entry.action, entry.subject, entry.reason, entry.outcome === 'disclosed' ? 1 : 0, entry.outcome);
  }

  page(beforeId: number | null, limit: number): Page<AuditEntry> {
    const rows = this.list.all(beforeId ?? Number.MAX_SAFE_INTEGER, limit + 1);
    return pageOf(rows.map((row) => ({ ...row, found: row.found !== 0 })), limit);
  }
}
