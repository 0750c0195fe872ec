import { parseDeviceId } from '../pipeline/device-id.js';
import { StatusType, type AccountingRecord } from './accounting-packet.js';

/** One VPN session as accounting told of it. */
export interface Session {
  readonly address: string;
  readonly device: string;
  readonly sessionId: string | null;
  /** The accounting client (concentrator) that reported it, so its Accounting-On/Off can end it. */
  readonly nas: string;
  /** ms since the epoch: the session's Start (or the first record seen), and its latest record. */
  readonly started: number;
  readonly updated: number;
}

/** A change to the address → device mapping: the device now at an address, or null when none is. */
export type SessionChange = readonly [address: string, device: string | null];

/** What became of one accounting record. */
export type Applied = 'mapped' | 'unmapped' | 'kept' | 'stale_stop' | 'nas_reset' | 'no_address' | 'no_identity' | 'ignored';

/**
 * The identity attribute as a device id: lower case, every run of characters outside
 * letters and digits one hyphen, at most 63 characters ("Alice@Example.NL" becomes
 * "alice-example-nl", "+31 6 1234" "31-6-1234"), so it obeys the same rules as an
 * encrypted client's device id; null when nothing is left.
 */
export function deviceFromIdentity(identity: string): string | null {
  const label = identity
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return parseDeviceId(label);
}

export interface SessionTableSettings {
  /** Sessions held at most; a new one beyond it pushes out the one updated longest ago. */
  readonly maxSessions: number;
  /** A session with no record for this long has ended without a Stop. */
  readonly timeoutMs: number;
}

/**
 * Address → session, from RADIUS accounting (RFC 2866). Start and Interim-Update map the
 * Framed-IP-Address to the device; Stop unmaps it, but only when it ends the session that
 * holds the address (a late Stop of an earlier session leaves its successor alone);
 * Accounting-On/Off from a concentrator end all its sessions. Bounded in entries, and
 * sessions that stop reporting expire. Kept in order of their latest record, so both the
 * eviction and the expiry sweep start at the front. Every change goes to `changed`.
 */
export class SessionTable {
  private readonly sessions = new Map<string, Session>();
  readonly counters = { expired: 0, evicted: 0 };

  constructor(
    private readonly settings: SessionTableSettings,
    private readonly changed: (change: SessionChange) => void,
    private readonly now: () => number = Date.now,
    /** A session that reported again without changing its device (Interim-Update): its expiry moved on. */
    private readonly refreshed: (address: string, device: string) => void = () => {},
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  get timeoutMs(): number {
    return this.settings.timeoutMs;
  }

  get(address: string): Session | undefined {
    return this.sessions.get(address);
  }

  /** Every address that has a device now, for a worker that starts after the sessions did. */
  entries(): SessionChange[] {
    return [...this.sessions.values()].map((session) => [session.address, session.device] as const);
  }

  /** The sessions held, the one that reported longest ago first. */
  held(): IterableIterator<Session> {
    return this.sessions.values();
  }

  apply(record: AccountingRecord, nas: string): Applied {
    if (record.status === StatusType.ACCOUNTING_ON || record.status === StatusType.ACCOUNTING_OFF) {
      // The concentrator restarted or stops: none of its sessions is up any more.
      for (const session of [...this.sessions.values()]) if (session.nas === nas) this.remove(session.address);
      return 'nas_reset';
    }
    if (record.status !== StatusType.START && record.status !== StatusType.STOP && record.status !== StatusType.INTERIM_UPDATE) return 'ignored';
    if (record.address === null) return 'no_address';
    const held = this.sessions.get(record.address);
    if (record.status === StatusType.STOP) {
      if (held === undefined) return 'kept';
      if (record.sessionId !== null && held.sessionId !== null && record.sessionId !== held.sessionId) return 'stale_stop';
      this.remove(record.address);
      return 'unmapped';
    }
    const device = record.identity === null ? null : deviceFromIdentity(record.identity);
    if (device === null) return 'no_identity';
    const now = this.now();
    const same = held !== undefined && held.device === device && held.sessionId === record.sessionId;
    const session: Session = { address: record.address, device, sessionId: record.sessionId, nas, started: same ? held.started : now, updated: now };
    // Delete first, so the session moves to the back of the order.
    this.sessions.delete(record.address);
    if (held === undefined && this.sessions.size >= this.settings.maxSessions) {
      const oldest = this.sessions.keys().next().value as string;
      this.remove(oldest);
      this.counters.evicted++;
    }
    this.sessions.set(record.address, session);
    if (held?.device === device) {
      this.refreshed(record.address, device);
      return 'kept';
    }
    this.changed([record.address, device]);
    return 'mapped';
  }

  /** Ends the sessions that have not reported within the timeout. */
  expire(): void {
    const before = this.now() - this.settings.timeoutMs;
    for (const session of this.sessions.values()) {
      if (session.updated > before) break;
      this.remove(session.address);
      this.counters.expired++;
    }
  }

  private remove(address: string): void {
    if (this.sessions.delete(address)) this.changed([address, null]);
  }
}
