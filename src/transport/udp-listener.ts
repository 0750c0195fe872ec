import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Query, type ReplyChannel } from '../pipeline/query.js';
import { Dispatched, type Dispatcher } from './dispatcher.js';

/** Kernel socket buffers sized for bursts: a full buffer drops queries silently. */
export const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
/** close() waits this long at most for replies still queued in the socket. */
const FLUSH_LIMIT_MS = 2000;
const FLUSH_POLL_MS = 5;

/** What the resolver needs of a UDP listener, whichever socket it runs on. */
export interface UdpEndpoint {
  listen(): Promise<void>;
  readonly address: { address: string; port: number };
  /** Stops taking new queries; in-flight ones still get their reply. */
  stopAccepting(): void;
  /** Closes once the replies still queued are written (a drain's last answers). */
  close(): Promise<void>;
  /** Datagrams dropped unread (longer than any query) and replies lost, where the socket can tell. */
  readonly losses: UdpLosses;
}

export interface UdpLosses {
  oversized: number;
  replies: number;
}

const NO_LOSSES: UdpLosses = Object.freeze({ oversized: 0, replies: 0 });

/**
 * Hands a UDP listener's datagrams to the dispatcher. One Query serves every datagram
 * answered synchronously (cache hits); a fresh one is taken only after a query goes
 * asynchronous, because the chain then owns it.
 */
export class DatagramIntake {
  /** The Query the next datagram is read into; during dispatch, the one being answered. */
  query = new Query();

  constructor(
    private readonly channel: ReplyChannel,
    private readonly dispatcher: Dispatcher,
    private readonly log: Logger,
  ) {}

  /**
   * `receivedAt`: when the socket handed the datagram over (performance.now(); one reading
   * for a whole batch). `borrowed`: `msg` is a view of a buffer the listener refills with
   * the next batch, so a query answered at once reads it in place and only one that goes
   * asynchronous is given a copy (the reply echoes its question bytes, dnstap logs them).
   */
  take(msg: Buffer, client: string, clientPort: number, receivedAt: number, borrowed = false): void {
    const query = this.query;
    query.reset();
    query.channel = this.channel;
    query.client = client;
    query.clientPort = clientPort;
    query.receivedAt = receivedAt;
    try {
      if (this.dispatcher.dispatch(msg, query) === Dispatched.PENDING) {
        if (borrowed) query.msg = Buffer.from(msg);
        this.query = new Query();
      }
    } catch (error) {
      // One bad packet must never take the listener down with it.
      this.query = new Query();
      this.log.error({ err: error }, 'unexpected error handling a UDP query');
    }
  }
}

/** Resolves once `queued()` reports nothing waiting, or after FLUSH_LIMIT_MS. */
export function waitForSendQueue(queued: () => number): Promise<void> {
  const deadline = Date.now() + FLUSH_LIMIT_MS;
  return new Promise((resolve) => {
    const check = (): void => {
      if (queued() > 0 && Date.now() < deadline) setTimeout(check, FLUSH_POLL_MS);
      else resolve();
    };
    check();
  });
}

/**
 * Replies go to the address the query came from, always an IP literal, so name lookup is
 * skipped: dgram's default runs dns.lookup and a nextTick for every datagram sent.
 */
function literalAddress(address: string, family: number, callback: (error: Error | null, address: string, family: number) => void): void {
  callback(null, address, family);
}

/** A UDP listener on Node's dgram socket: one datagram per 'message' event. */
export class UdpListener implements ReplyChannel, UdpEndpoint {
  readonly protocol = 'udp';
  private draining = false;
  private readonly socket: dgram.Socket;
  private readonly intake: DatagramIntake;

  constructor(
    private readonly host: string,
    private readonly port: number,
    family: 4 | 6,
    dispatcher: Dispatcher,
    private readonly log: Logger,
  ) {
    this.intake = new DatagramIntake(this, dispatcher, log);
    this.socket = dgram.createSocket({
      type: family === 6 ? 'udp6' : 'udp4',
      ipv6Only: family === 6,
      recvBufferSize: SOCKET_BUFFER_BYTES,
      sendBufferSize: SOCKET_BUFFER_BYTES,
      lookup: literalAddress as dgram.SocketOptions['lookup'],
    });
    this.socket.on('message', this.onMessage);
    this.socket.on('error', this.onError);
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const fail = (error: Error): void => reject(error);
      this.socket.once('error', fail);
      this.socket.bind({ address: this.host, port: this.port }, () => {
        this.socket.off('error', fail);
        resolve();
      });
    });
  }

  get address(): { address: string; port: number } {
    return this.socket.address();
  }

  send(query: Query, reply: Buffer): void {
    // No completion callback: it would cost a nextTick per reply. A send error concerns one
    // client and surfaces as the socket's 'error' event; close() waits on the send queue.
    this.socket.send(reply, query.clientPort, query.client);
  }

  stopAccepting(): void {
    this.draining = true;
  }

  /** dgram reads datagrams of any length and reports failed sends only as 'error' events (logged). */
  get losses(): UdpLosses {
    return NO_LOSSES;
  }

  async close(): Promise<void> {
    await waitForSendQueue(() => this.socket.getSendQueueCount());
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private readonly onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (!this.draining) this.intake.take(msg, rinfo.address, rinfo.port, performance.now());
  };

  private readonly onError = (error: Error): void => {
    // Send errors (e.g. ICMP unreachable reported late) concern one client, not the listener.
    this.log.warn({ err: error }, 'UDP socket error');
  };
}
