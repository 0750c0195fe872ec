import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Query, type ReplyChannel } from '../pipeline/query.js';
import { Dispatched, type Dispatcher } from './dispatcher.js';

/** Kernel socket buffers sized for bursts: a full buffer drops queries silently. */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * A UDP listener. It reuses one Query for every datagram answered synchronously (cache
 * hits) and takes a fresh one only after a query goes asynchronous.
 */
export class UdpListener implements ReplyChannel {
  readonly protocol = 'udp';
  private query = new Query();
  private draining = false;
  /** Replies handed to the socket but not yet written: close() waits for them. */
  private sending = 0;
  private onFlushed: (() => void) | null = null;
  private readonly socket: dgram.Socket;

  constructor(
    private readonly host: string,
    private readonly port: number,
    family: 4 | 6,
    private readonly dispatcher: Dispatcher,
    private readonly log: Logger,
  ) {
    this.socket = dgram.createSocket({
      type: family === 6 ? 'udp6' : 'udp4',
      ipv6Only: family === 6,
      recvBufferSize: SOCKET_BUFFER_BYTES,
      sendBufferSize: SOCKET_BUFFER_BYTES,
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
    this.sending++;
    this.socket.send(reply, query.clientPort, query.client, this.onSent);
  }

  /** Stops taking new queries; the socket stays open so in-flight ones still get their reply. */
  stopAccepting(): void {
    this.draining = true;
  }

  /** Closes once every reply already handed over has been written (a drain's last answers). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      const close = (): void => void this.socket.close(() => resolve());
      if (this.sending === 0) close();
      else this.onFlushed = close;
    });
  }

  private readonly onSent = (error: Error | null): void => {
    this.sending--;
    if (error) this.log.debug({ err: error }, 'UDP reply not sent');
    if (this.sending === 0 && this.onFlushed !== null) {
      const flushed = this.onFlushed;
      this.onFlushed = null;
      flushed();
    }
  };

  private readonly onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (this.draining) return;
    const query = this.query;
    query.reset();
    query.channel = this;
    query.client = rinfo.address;
    query.clientPort = rinfo.port;
    query.receivedAt = performance.now();
    try {
      if (this.dispatcher.dispatch(msg, query) === Dispatched.PENDING) this.query = new Query();
    } catch (error) {
      // One bad packet must never take the listener down with it.
      this.query = new Query();
      this.log.error({ err: error }, 'unexpected error handling a UDP query');
    }
  };

  private readonly onError = (error: Error): void => {
    // Send errors (e.g. ICMP unreachable reported late) concern one client, not the listener.
    this.log.warn({ err: error }, 'UDP socket error');
  };
}
