import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Query, type ReplyChannel } from '../pipeline/query.js';
import { Dispatched, type Dispatcher } from './dispatcher.js';

export interface TcpSettings {
  idleTimeoutMs: number;
  maxConnections: number;
  maxInFlightPerConnection: number;
}

/**
 * DNS over TCP (RFC 7766): length-framed messages, any number per connection, answered as
 * each completes (out of order), bounded in connections and in queries in flight per
 * connection, closed after an idle period with nothing outstanding.
 */
export class TcpListener implements ReplyChannel {
  readonly protocol = 'tcp';
  private readonly server: net.Server;
  private readonly connections = new Set<TcpConnection>();
  private draining = false;
  /** Connections turned away because maxConnections were open (read by the metrics). */
  capReached = 0;

  constructor(
    private readonly host: string,
    private readonly port: number,
    readonly dispatcher: Dispatcher,
    readonly settings: TcpSettings,
    readonly log: Logger,
  ) {
    this.server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server.maxConnections = settings.maxConnections;
    this.server.on('drop', () => this.capReached++);
    this.server.on('error', (error) => log.warn({ err: error }, 'TCP listener error'));
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const fail = (error: Error): void => reject(error);
      this.server.once('error', fail);
      this.server.listen({ host: this.host, port: this.port, ipv6Only: this.host.includes(':') }, () => {
        this.server.off('error', fail);
        resolve();
      });
    });
  }

  get address(): net.AddressInfo {
    return this.server.address() as net.AddressInfo;
  }

  get openConnections(): number {
    return this.connections.size;
  }

  send(query: Query, reply: Buffer): void {
    (query.connection as TcpConnection).reply(reply);
  }

  /** Stops accepting and reading; each connection closes once its last query is answered. */
  stopAccepting(): void {
    this.draining = true;
    this.server.close();
    for (const connection of this.connections) connection.drain();
  }

  close(): Promise<void> {
    for (const connection of this.connections) connection.destroy();
    if (!this.server.listening) return Promise.resolve();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  forget(connection: TcpConnection): void {
    this.connections.delete(connection);
  }

  private accept(socket: net.Socket): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    this.connections.add(new TcpConnection(socket, this));
  }
}

class TcpConnection {
  private pending: Buffer | null = null;
  private inFlight = 0;
  private draining = false;
  private readonly client: string;
  private readonly clientPort: number;

  constructor(
    private readonly socket: net.Socket,
    private readonly listener: TcpListener,
  ) {
    this.client = socket.remoteAddress ?? '';
    this.clientPort = socket.remotePort ?? 0;
    socket.setTimeout(listener.settings.idleTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('timeout', () => {
      // RFC 7766 §6.2.3: close idle connections, but never with answers still owed.
      if (this.inFlight === 0) socket.end();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => listener.forget(this));
  }

  reply(message: Buffer): void {
    this.inFlight--;
    if (!this.socket.destroyed && this.socket.writable) {
      const frame = Buffer.allocUnsafe(2 + message.length);
      frame.writeUInt16BE(message.length, 0);
      message.copy(frame, 2);
      this.socket.write(frame);
    }
    if (this.draining && this.inFlight === 0) this.socket.end();
    else if (this.socket.isPaused() && !this.draining && this.inFlight < this.listener.settings.maxInFlightPerConnection) {
      this.socket.resume();
    }
  }

  drain(): void {
    this.draining = true;
    this.socket.pause();
    if (this.inFlight === 0) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    let buffer: Buffer = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    while (buffer.length >= 2) {
      const length = buffer.readUInt16BE(0);
      if (buffer.length < 2 + length) break;
      const message = buffer.subarray(2, 2 + length);
      buffer = buffer.subarray(2 + length);
      this.handle(message);
      if (this.draining) break;
    }
    this.pending = buffer.length > 0 ? buffer : null;
    if (this.inFlight >= this.listener.settings.maxInFlightPerConnection) this.socket.pause();
  }

  private handle(message: Buffer): void {
    const query = new Query();
    query.channel = this.listener;
    query.connection = this;
    query.client = this.client;
    query.clientPort = this.clientPort;
    query.receivedAt = performance.now();
    // Counted before dispatch: a synchronous answer calls reply(), which counts it down.
    this.inFlight++;
    let outcome: Dispatched = Dispatched.DROPPED;
    try {
      outcome = this.listener.dispatcher.dispatch(message, query);
    } catch (error) {
      this.listener.log.error({ err: error }, 'unexpected error handling a TCP query');
    }
    // No reply is coming for a dropped message, so it must not hold a slot.
    if (outcome === Dispatched.DROPPED) this.inFlight--;
  }
}
