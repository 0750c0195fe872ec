import tls from 'node:tls';
import type { ChannelAttempt, EncryptedChannel } from './upstream-server.js';

export interface ChannelSettings {
  host: string;
  port: number;
  /** The name the certificate must be valid for. */
  name: string;
  /** PEM CA bundle; null: the system store. */
  ca: Buffer | null;
  /** Queries one connection may have outstanding; beyond, an attempt fails at once. */
  maxOutstanding: number;
  /** An idle connection is closed after this. */
  idleTimeoutMs: number;
}

/** What tls.connect and http2.connect need to reach and verify the server; SNI only for a name (RFC 6066 allows no IP there). */
export function tlsOptions({ host, port, name, ca }: ChannelSettings): tls.ConnectionOptions {
  return { host, port, ...(name === host ? {} : { servername: name }), ...(ca === null ? {} : { ca }), minVersion: 'TLSv1.2', rejectUnauthorized: true };
}

/**
 * Fails an attempt on the next tick: a channel that turns one down at once (backing off,
 * full) must not report into the forwarding while it is still sending it.
 */
export function failLater(attempt: ChannelAttempt, error: Error): void {
  process.nextTick(() => attempt.fail(error));
}

/** After a failed connection, the next one waits this long, doubling up to the maximum. */
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 30_000;

/** The reconnect backoff a DoT or DoH channel keeps after its connections fail. */
export class Backoff {
  private failures = 0;
  private until = 0;
  private lastError: Error | null = null;

  /** Why a connection may not be opened now, or null when it may. */
  blocked(now: number): Error | null {
    return now < this.until ? new Error(`not reconnecting for ${Math.ceil(this.until - now)} ms after: ${this.lastError?.message ?? 'a failure'}`) : null;
  }

  failed(error: Error, now: number): void {
    this.lastError = error;
    this.until = now + Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** this.failures);
    this.failures++;
  }

  succeeded(): void {
    this.failures = 0;
    this.until = 0;
  }
}

/**
 * DNS over TLS to one upstream (RFC 7858): one persistent connection, queries pipelined
 * on it and answers matched by ID (out of order), opened when needed, closed when idle,
 * reopened with exponential backoff after failures. The certificate is verified against
 * the configured name and CA (or the system store); verification is never turned off.
 * When the connection fails, every query on it fails at once and the forwarding moves on.
 */
export class DotChannel implements EncryptedChannel {
  readonly protocol = 'dot';
  private socket: tls.TLSSocket | null = null;
  private ready = false;
  private readonly outstanding = new Map<number, ChannelAttempt>();
  private readonly waiting: ChannelAttempt[] = [];
  private pending: Buffer = Buffer.alloc(0);
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly backoff = new Backoff();
  private closed = false;

  constructor(private readonly settings: ChannelSettings) {}

  send(attempt: ChannelAttempt): void {
    if (this.closed) return failLater(attempt, new Error('the resolver is shutting down'));
    if (this.outstanding.has(attempt.id)) return failLater(attempt, new Error('query ID already outstanding on this connection'));
    if (this.outstanding.size >= this.settings.maxOutstanding) return failLater(attempt, new Error(`${this.settings.maxOutstanding} queries already outstanding on the DoT connection`));
    if (this.socket === null) {
      const blocked = this.backoff.blocked(Date.now());
      if (blocked !== null) return failLater(attempt, blocked);
      this.connect();
    }
    this.outstanding.set(attempt.id, attempt);
    this.stopIdleTimer();
    if (this.ready) this.write(attempt.query);
    else this.waiting.push(attempt);
  }

  cancel(attempt: ChannelAttempt): void {
    if (this.outstanding.get(attempt.id) === attempt) this.outstanding.delete(attempt.id);
    if (this.outstanding.size === 0) this.startIdleTimer();
  }

  close(): void {
    this.closed = true;
    this.stopIdleTimer();
    this.socket?.destroy();
  }

  private connect(): void {
    const { host, port } = this.settings;
    // Node checks the certificate against servername (or the address, for an IP literal):
    // a wrong name or an unknown CA ends the handshake with an error.
    const socket = tls.connect({ ...tlsOptions(this.settings), ALPNProtocols: ['dot'] });
    socket.once('secureConnect', () => {
      if (this.socket !== socket) return;
      this.ready = true;
      this.backoff.succeeded();
      for (const attempt of this.waiting.splice(0)) if (this.outstanding.get(attempt.id) === attempt) this.write(attempt.query);
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.lost(socket, error));
    socket.on('close', () => this.lost(socket, new Error(`${host}:${port} closed the DoT connection`)));
    this.socket = socket;
    this.ready = false;
  }

  private write(query: Buffer): void {
    const frame = Buffer.allocUnsafe(2 + query.length);
    frame.writeUInt16BE(query.length, 0);
    query.copy(frame, 2);
    this.socket!.write(frame);
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 2) {
      const length = this.pending.readUInt16BE(0);
      if (this.pending.length < 2 + length) return;
      const message = this.pending.subarray(2, 2 + length);
      this.pending = this.pending.subarray(2 + length);
      // Too short to carry an ID: the connection is broken; anything else goes to the query with its ID.
      if (message.length < 12) return void this.socket?.destroy(new Error('the DoT upstream sent a message shorter than a DNS header'));
      const attempt = this.outstanding.get(message.readUInt16BE(0));
      attempt?.deliver(message);
    }
  }

  private lost(socket: tls.TLSSocket, error: Error): void {
    if (this.socket !== socket) return;
    this.socket = null;
    this.pending = Buffer.alloc(0);
    // A connection that never got ready counts against reconnecting; an idle close does not.
    if (!this.ready || this.outstanding.size > 0) this.backoff.failed(error, Date.now());
    this.ready = false;
    this.waiting.length = 0;
    const failed = [...this.outstanding.values()];
    this.outstanding.clear();
    for (const attempt of failed) attempt.fail(error);
  }

  private startIdleTimer(): void {
    if (this.idleTimer !== null || this.socket === null) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.outstanding.size === 0) this.socket?.end();
    }, this.settings.idleTimeoutMs);
    this.idleTimer.unref();
  }

  private stopIdleTimer(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}
