import cluster from 'node:cluster';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Query, ReplyChannel, Transport } from '../pipeline/query.js';
import { padReply } from '../wire/encrypted-reply.js';
import type { Dispatcher } from './dispatcher.js';
import { nativeTcp, type NativeTcpListener } from './native-tcp.js';
import { TcpConnection, type ConnectionHost } from './tcp-connection.js';

export interface TcpSettings {
  idleTimeoutMs: number;
  /** A message begun must be complete within this, or the connection is closed (slow senders). */
  messageTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerClient: number;
  maxInFlightPerConnection: number;
  /** Replies the client has not read beyond this stop reading from it. */
  maxUnsentBytes: number;
}

/**
 * Decides at accept whether a client may hold a connection at all. The resolver gives every
 * listener the access list; a listener that knows more of its clients (a device identity on
 * an encrypted listener) can be given its own.
 */
export type Admission = (client: string) => boolean;

/** A layer over each accepted socket (TLS for DoT): wraps it, then watches the connection it carries. */
export interface StreamLayer {
  readonly protocol: Transport;
  wrap(socket: net.Socket): net.Socket;
  attach(stream: net.Socket, connection: TcpConnection): void;
}

/** What the listener did with connections; read by the metrics layer. */
export class TcpCounters {
  accepted = 0;
  /** Refused at accept: the admission said no (outside the access list). */
  refusedNotAdmitted = 0;
  /** Refused at accept: the client already held its share of connections. */
  refusedPerClient = 0;
  /** Refused at accept: every slot busy with a query, none idle to close. */
  refusedFull = 0;
  closedIdle = 0;
  /** Idle connections closed to make room for a new client. */
  closedForRoom = 0;
  /** Closed because a message was not complete within the message deadline. */
  closedSlowMessage = 0;
  /** Times reading paused because the client left too many reply bytes unread. */
  readsPausedUnsent = 0;
}

/** Logging "the cap is reached" at most this often per listener. */
const CAP_LOG_EVERY_MS = 60_000;
const BACKLOG = 511;

/**
 * DNS over TCP (RFC 7766) on one address. Who may connect is decided at accept, before a
 * connection holds a slot: clients the admission refuses, clients that already hold their
 * share, and (when every slot is busy) everyone new are closed at once and counted; when the
 * listener is full, the connection idle longest gives way to a new client first. A shared
 * sweep closes idle connections and connections whose message does not arrive in time.
 *
 * With the addon, each worker listens on a socket of its own (SO_REUSEPORT) and accepts in
 * C, so the cluster primary never holds a connection; without it, Node's net.Server does
 * (the primary accepts and hands connections over).
 */
export class TcpListener implements ReplyChannel, ConnectionHost {
  readonly protocol: Transport;
  readonly counters = new TcpCounters();
  readonly channel = this;
  readonly maxInFlight: number;
  readonly maxUnsentBytes: number;
  private readonly connections = new Set<TcpConnection>();
  private readonly perClient = new Map<string, number>();
  private native: NativeTcpListener | null = null;
  private server: net.Server | null = null;
  private boundPort = 0;
  private sweeper: NodeJS.Timeout | null = null;
  private draining = false;
  private lastCapLog = -Infinity;
  private refusedSinceLog = 0;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly family: 4 | 6,
    readonly dispatcher: Dispatcher,
    private readonly settings: TcpSettings,
    private readonly admission: Admission,
    readonly log: Logger,
    private readonly layer: StreamLayer | null = null,
  ) {
    this.protocol = layer?.protocol ?? 'tcp';
    this.maxInFlight = settings.maxInFlightPerConnection;
    this.maxUnsentBytes = settings.maxUnsentBytes;
  }

  async listen(): Promise<void> {
    const addon = nativeTcp();
    if (addon !== null) {
      const options = { address: this.host, port: this.port, family: this.family, backlog: BACKLOG, reusePort: cluster.isWorker ? 1 : 0 } as const;
      try {
        this.native = addon.listenTcp(options, (fd, address, port) => this.acceptDescriptor(fd, address, port));
      } catch (error) {
        throw new Error(`TCP ${this.host}:${this.port}: ${(error as Error).message}`);
      }
      this.boundPort = this.native.port;
    } else {
      this.boundPort = await this.listenWithNode();
    }
    const { idleTimeoutMs, messageTimeoutMs } = this.settings;
    // One timer for all connections; deadlines are kept to within a quarter of the shorter one.
    const every = Math.max(25, Math.min(1000, Math.min(idleTimeoutMs, messageTimeoutMs) / 4));
    this.sweeper = setInterval(() => this.sweep(performance.now()), every);
    this.sweeper.unref();
  }

  get address(): { address: string; port: number } {
    return { address: this.host, port: this.boundPort };
  }

  get openConnections(): number {
    return this.connections.size;
  }

  send(query: Query, reply: Buffer): void {
    // Over TLS, sizes are what is left to see: pad them (RFC 8467).
    (query.connection as TcpConnection).reply(this.layer === null ? reply : padReply(reply));
  }

  /** Stops accepting and reading; each connection closes once its last query is answered. */
  stopAccepting(): void {
    this.draining = true;
    this.stopListening();
    for (const connection of this.connections) connection.drain();
  }

  close(): Promise<void> {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
    for (const connection of this.connections) connection.destroy();
    return this.stopListening();
  }

  pausedForUnsent(): void {
    this.counters.readsPausedUnsent++;
  }

  closed(connection: TcpConnection): void {
    if (this.connections.delete(connection)) this.release(connection.client);
  }

  private stopListening(): Promise<void> {
    this.native?.close();
    this.native = null;
    const server = this.server;
    this.server = null;
    if (server === null || !server.listening) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  private listenWithNode(): Promise<number> {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
      if (!this.admit(socket.remoteAddress ?? '')) socket.resetAndDestroy();
      else this.open(socket, socket.remoteAddress ?? '', socket.remotePort ?? 0);
    });
    server.on('error', (error) => this.log.warn({ err: error }, 'TCP listener error'));
    this.server = server;
    return new Promise((resolve, reject) => {
      const fail = (error: Error): void => reject(error);
      server.once('error', fail);
      server.listen({ host: this.host, port: this.port, ipv6Only: this.family === 6, backlog: BACKLOG }, () => {
        server.off('error', fail);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }

  /** From the addon: admitted descriptors become sockets, the rest are reset by the addon. */
  private acceptDescriptor(fd: number, address: string, port: number): boolean {
    if (!this.admit(address)) return false;
    let socket: net.Socket;
    try {
      socket = new net.Socket({ fd, allowHalfOpen: true, readable: true, writable: true });
    } catch (error) {
      this.release(address);
      this.log.warn({ err: error }, 'an accepted TCP connection could not be taken over');
      return false;
    }
    this.open(socket, address, port);
    return true;
  }

  /** Takes a slot for `client`, or says why not (counted). */
  private admit(client: string): boolean {
    const counters = this.counters;
    counters.accepted++;
    if (this.draining) return false;
    if (!this.admission(client)) {
      counters.refusedNotAdmitted++;
      return false;
    }
    const held = this.perClient.get(client) ?? 0;
    if (held >= this.settings.maxConnectionsPerClient) {
      counters.refusedPerClient++;
      return false;
    }
    if (this.connections.size >= this.settings.maxConnections && !this.closeIdlest()) {
      counters.refusedFull++;
      this.capReached();
      return false;
    }
    this.perClient.set(client, held + 1);
    return true;
  }

  /** Gives back a client's slot taken by admit(). */
  private release(client: string): void {
    const held = this.perClient.get(client) ?? 1;
    if (held <= 1) this.perClient.delete(client);
    else this.perClient.set(client, held - 1);
  }

  private open(socket: net.Socket, client: string, port: number): void {
    const layer = this.layer;
    if (layer === null) {
      this.connections.add(new TcpConnection(socket, client, port, this));
      return;
    }
    const stream = layer.wrap(socket);
    const connection = new TcpConnection(stream, client, port, this);
    layer.attach(stream, connection);
    this.connections.add(connection);
  }

  /** Closes the connection idle longest to make room (RFC 7766 §6.2.3); false when none is idle. */
  private closeIdlest(): boolean {
    let idlest: TcpConnection | null = null;
    for (const connection of this.connections) {
      if (connection.idle && (idlest === null || connection.lastActivity < idlest.lastActivity)) idlest = connection;
    }
    if (idlest === null) return false;
    this.counters.closedForRoom++;
    // Its slot is free now, not when the socket's close event comes.
    this.closed(idlest);
    idlest.destroy();
    return true;
  }

  private capReached(): void {
    this.refusedSinceLog++;
    const now = performance.now();
    if (now - this.lastCapLog < CAP_LOG_EVERY_MS) return;
    this.log.warn(
      { listen: `${this.host}:${this.boundPort}`, maxConnections: this.settings.maxConnections, refused: this.refusedSinceLog },
      'TCP connection cap reached, every connection busy: refusing new ones',
    );
    this.lastCapLog = now;
    this.refusedSinceLog = 0;
  }

  private sweep(now: number): void {
    const { idleTimeoutMs, messageTimeoutMs } = this.settings;
    for (const connection of this.connections) {
      if (connection.partialSince > 0 && now - connection.partialSince >= messageTimeoutMs) {
        this.counters.closedSlowMessage++;
        connection.destroy();
      } else if (connection.idle && now - connection.lastActivity >= idleTimeoutMs) {
        this.counters.closedIdle++;
        connection.destroy();
      }
    }
  }
}
