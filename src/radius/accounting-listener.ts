import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import type { ClientAcl } from '../access/client-acl.js';
import { parseHostPort } from '../config/address.js';
import { AccountingRejected, accountingResponse, readAccountingRequest, type Rejection } from './accounting-packet.js';
import type { Applied, SessionTable } from './session-table.js';

export interface AccountingSettings {
  /** HOST:PORT to receive Accounting-Requests on (port 1813 when left out). */
  readonly listen: string;
  readonly secret: Buffer;
  /** Concentrators that may send accounting; datagrams from anyone else are dropped unread. */
  readonly clients: ClientAcl;
  /** The attribute type whose value names the device. */
  readonly identityAttribute: number;
}

type Outcome = 'accepted' | 'unknown_client' | Rejection;

const LOG_EVERY_MS = 60_000;

/**
 * The RADIUS accounting server (RFC 2866) a VPN concentrator reports its sessions to: it
 * authenticates each Accounting-Request with the shared secret, hands it to the session
 * table and answers Accounting-Response. A datagram from an address outside `clients`, a
 * malformed packet or one with a wrong authenticator is dropped without an answer and
 * counted, and logged at most once a minute per reason, with the sender, never the secret.
 */
export class AccountingListener {
  readonly counters: Record<Outcome, number> = { accepted: 0, unknown_client: 0, malformed: 0, not_accounting: 0, bad_authenticator: 0 };
  readonly applied: Partial<Record<Applied, number>> = {};
  private readonly lastLogged = new Map<Outcome, number>();

  private constructor(
    private readonly socket: Socket,
    private readonly settings: AccountingSettings,
    private readonly table: SessionTable,
    private readonly log: Logger,
  ) {
    socket.on('message', (datagram, peer) => this.received(datagram, peer));
    // A send that fails (the concentrator went away) loses one answer; it will retransmit.
    socket.on('error', (error) => log.warn({ err: error.message }, 'RADIUS accounting socket error'));
  }

  static start(settings: AccountingSettings, table: SessionTable, log: Logger): Promise<AccountingListener> {
    const { host, port, family } = parseHostPort(settings.listen, 1813);
    const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve(new AccountingListener(socket, settings, table, log));
      });
    });
  }

  get address(): { address: string; port: number } {
    return this.socket.address();
  }

  private received(datagram: Buffer, peer: RemoteInfo): void {
    if (!this.settings.clients.allows(peer.address)) return this.dropped('unknown_client', peer, 'not a configured accounting client');
    let record;
    try {
      record = readAccountingRequest(datagram, this.settings.secret, this.settings.identityAttribute);
    } catch (error) {
      if (!(error instanceof AccountingRejected)) throw error;
      return this.dropped(error.reason, peer, error.message);
    }
    this.counters.accepted++;
    const applied = this.table.apply(record, peer.address);
    this.applied[applied] = (this.applied[applied] ?? 0) + 1;
    this.socket.send(accountingResponse(record, this.settings.secret), peer.port, peer.address);
  }

  private dropped(outcome: Outcome, peer: RemoteInfo, why: string): void {
    this.counters[outcome]++;
    const now = Date.now();
    if (now - (this.lastLogged.get(outcome) ?? -Infinity) < LOG_EVERY_MS) return;
    this.lastLogged.set(outcome, now);
    this.log.warn({ from: peer.address, outcome, dropped: this.counters[outcome] }, `RADIUS accounting packet dropped: ${why}`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
