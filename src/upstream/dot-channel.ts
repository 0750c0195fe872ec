import tls from 'node:tls';
import { Backoff, failLater, IdleTimer, tlsOptions, type ChannelSettings } from './channel-common.js';
import type { ChannelAttempt, EncryptedChannel } from './upstream-server.js';


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
  private readonly idle: IdleTimer;
  private readonly backoff = new Backoff();
  private closed = false;

  constructor(private readonly settings: ChannelSettings) {
    this.idle = new IdleTimer(settings.idleTimeoutMs, () => {
      if (this.outstanding.size === 0) this.socket?.end();
    });
  }

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
    this.idle.stop();
    if (this.ready) this.write(attempt.query);
    else this.waiting.push(attempt);
  }

  cancel(attempt: ChannelAttempt): void {
    if (this.outstanding.get(attempt.id) === attempt) this.outstanding.delete(attempt.id);
    if (this.outstanding.size === 0 && this.socket !== null) this.idle.start();
  }

  close(): void {
    this.closed = true;
    this.idle.stop();
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

}
