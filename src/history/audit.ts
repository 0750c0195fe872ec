import type { Database, Statement } from 'better-sqlite3';
import { pageOf, type Page } from './page.js';

/** One administrator action on personal data, kept for `history.retention_days.audit`. */
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
}

interface AuditRow extends Omit<AuditEntry, 'found'> {
  found: number;
}

/** The append-only trail of who re-identified which device, when and why. */
export class AuditLog {
  private readonly insert: Statement<[number, string, string, string, string, number]>;
  private readonly list: Statement<[number, number], AuditRow>;

  constructor(db: Database) {
    this.insert = db.prepare('INSERT INTO audit (ts, principal, action, subject, reason, found) VALUES (?, ?, ?, ?, ?, ?)');
    this.list = db.prepare('SELECT id, ts, principal, action, subject, reason, found FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?');
  }

  /** Throws when the entry cannot be stored, so the caller can refuse to disclose anything. */
  record(entry: Omit<AuditEntry, 'id'>): void {
    this.insert.run(entry.ts, entry.principal, entry.action, entry.subject, entry.reason, entry.found ? 1 : 0);
  }

  page(beforeId: number | null, limit: number): Page<AuditEntry> {
    const rows = this.list.all(beforeId ?? Number.MAX_SAFE_INTEGER, limit + 1);
    return pageOf(rows.map((row) => ({ ...row, found: row.found !== 0 })), limit);
  }
}
