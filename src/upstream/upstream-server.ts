import type { OpenConnectedSocket } from './connected-socket.js';
import { openDgramSocket } from './dgram-socket.js';
import type { ExchangeCounters } from './exchange-counters.js';
import { UdpSocketPool } from './udp-socket-pool.js';

/** Failures in a row after which a server is moved to the back of the line. */
const FAILURES_BEFORE_DOWN = 2;
const MAX_BACKOFF_MS = 30_000;
/** A server that answered in another case than asked is asked without 0x20 for this long, then tried again. */
const CASE_FALLBACK_MS = 10 * 60_000;

/** A persistent encrypted connection to one server (DoT or DoH) that attempts go through. */
export interface EncryptedChannel {
  readonly protocol: 'dot' | 'doh';
  /** Sends the attempt's query; its answer or failure comes back through the attempt. */
  send(attempt: ChannelAttempt): void;
  /** The attempt is closed: forget it (its answer, if one comes, is dropped). */
  cancel(attempt: ChannelAttempt): void;
  close(): void;
}

/** What a channel needs of an attempt. */
export interface ChannelAttempt {
  readonly query: Buffer;
  readonly id: number;
  deliver(message: Buffer): void;
  fail(error: Error): void;
}

/**
 * One upstream resolver and how it has behaved lately. A server that keeps failing is put
 * behind the others for a backoff that doubles up to 30 s; it is still tried when nothing
 * better is left, and one success restores it.
 */
export class UpstreamServer {
  consecutiveFailures = 0;
  downUntil = 0;
  /** Smoothed round-trip time in ms (RFC 6298 style, α = 1/8). */
  srttMs = 0;
  answered = 0;
  failed = 0;
  /** Until then, queries to this server keep their case (it did not echo mixed case). */
  caseInsensitiveUntil = 0;

  /** Set for DoT and DoH servers: every attempt goes through it instead of a UDP socket. */
  channel: EncryptedChannel | null = null;
  /** What the UDP pool's sockets are opened with: Node's dgram unless the process offers the batching addon's. */
  openSocket: OpenConnectedSocket = openDgramSocket;
  readonly label: string;
  private pool: UdpSocketPool | null = null;

  /** `scheme` and `suffix` frame the address in the label for encrypted servers (`tls://…#name`). */
  constructor(
    readonly host: string,
    readonly port: number,
    readonly family: 4 | 6,
    scheme = '',
    suffix = '',
  ) {
    this.label = `${scheme}${family === 6 ? `[${host}]:${port}` : `${host}:${port}`}${suffix}`;
  }

  /** The UDP sockets this worker asks this server over, opened on first use. */
  udpPool(counters: ExchangeCounters): UdpSocketPool {
    return (this.pool ??= new UdpSocketPool(this.host, this.port, this.family, counters, this.openSocket));
  }

  /** Closes its UDP sockets and its encrypted connection. */
  close(): void {
    this.pool?.close();
    this.pool = null;
    this.channel?.close();
  }

  isUp(now: number): boolean {
    return now >= this.downUntil;
  }

  /** Whether to send this server mixed-case (0x20) names now. */
  keepsCase(now: number): boolean {
    return now >= this.caseInsensitiveUntil;
  }

  /** It answered a query without 0x20 after not echoing one with it. */
  lostCase(now: number): void {
    this.caseInsensitiveUntil = now + CASE_FALLBACK_MS;
  }

  recordSuccess(rttMs: number): void {
    this.answered++;
    this.consecutiveFailures = 0;
    this.downUntil = 0;
    this.srttMs = this.srttMs === 0 ? rttMs : this.srttMs + (rttMs - this.srttMs) / 8;
  }

  recordFailure(now: number): void {
    this.failed++;
    this.consecutiveFailures++;
    if (this.consecutiveFailures >= FAILURES_BEFORE_DOWN) {
      const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.consecutiveFailures - FAILURES_BEFORE_DOWN));
      this.downUntil = now + backoff;
    }
  }
}

/** Servers in the order to try them now: those up first, each group in configured order. */
export function tryOrder(servers: readonly UpstreamServer[], now: number, out: UpstreamServer[]): UpstreamServer[] {
  out.length = 0;
  for (const server of servers) if (server.isUp(now)) out.push(server);
  for (const server of servers) if (!server.isUp(now)) out.push(server);
  return out;
}
