import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Query, type ReplyChannel } from '../pipeline/query.js';
import { Dispatched, type Dispatcher } from './dispatcher.js';

/** What a connection needs of the listener that accepted it. */
export interface ConnectionHost {
  readonly channel: ReplyChannel;
  readonly dispatcher: Dispatcher;
  readonly log: Logger;
  readonly maxInFlight: number;
  readonly maxUnsentBytes: number;
  /** Reading was paused because replies the client has not read passed maxUnsentBytes. */
  pausedForUnsent(): void;
  closed(connection: TcpConnection): void;
}

/**
 * One DNS-over-TCP connection (RFC 7766): length-framed messages, any number, answered as
 * each completes (out of order). Reading stops while too many queries are in flight or
 * while the replies the client has not read pass a byte cap, and resumes when they drain,
 * so a client that pipelines and never reads costs at most that cap. A client that sends
 * its queries and then its FIN still gets every answer before the connection closes.
 */
export class TcpConnection {
  inFlight = 0;
  /** When bytes last arrived or the client last took our replies (performance.now()). */
  lastActivity: number;
  /** Since when an incomplete message has been waiting for its remaining bytes; 0: none. */
  partialSince = 0;
  /** The device the connection identified (an encrypted listener's SNI label), else null. */
  device: string | null = null;
  /** The device was proven by a client certificate (mTLS). */
  deviceCertified = false;
  private pending: Buffer | null = null;
  private processing = false;
  private peerEnded = false;
  private draining = false;
  private ended = false;

  constructor(
    private readonly socket: net.Socket,
    readonly client: string,
    private readonly clientPort: number,
    private readonly host: ConnectionHost,
  ) {
    this.lastActivity = performance.now();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      this.lastActivity = performance.now();
      this.process();
    });
    socket.on('end', () => {
      this.peerEnded = true;
      this.process();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => host.closed(this));
    socket.resume();
  }

  /** Nothing is being worked on for the client: it may be closed when idle or to make room. */
  get idle(): boolean {
    return this.inFlight === 0;
  }

  reply(message: Buffer): void {
    this.inFlight--;
    const socket = this.socket;
    if (!socket.destroyed && socket.writable) {
      const frame = Buffer.allocUnsafe(2 + message.length);
      frame.writeUInt16BE(message.length, 0);
      message.copy(frame, 2);
      socket.write(frame);
    }
    // Inside process() the loop itself goes on; from an upstream answer, pick up where it stopped.
    if (!this.processing) this.process();
  }

  /** Stops reading; the connection closes once its last query is answered. */
  drain(): void {
    this.draining = true;
    this.process();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.lastActivity = performance.now();
    this.pending = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.process();
  }

  private mayTakeMore(): boolean {
    return !this.draining && this.inFlight < this.host.maxInFlight && this.socket.writableLength <= this.host.maxUnsentBytes;
  }

  /** Handles every complete message the limits allow, then decides whether to read on. */
  private process(): void {
    this.processing = true;
    let buffer = this.pending;
    while (buffer !== null && buffer.length >= 2 && this.mayTakeMore() && !this.socket.destroyed) {
      const length = buffer.readUInt16BE(0);
      if (buffer.length < 2 + length) break;
      const message = buffer.subarray(2, 2 + length);
      buffer = buffer.length === 2 + length ? null : buffer.subarray(2 + length);
      this.handle(message);
    }
    this.processing = false;
    this.pending = buffer;
    const waiting = buffer !== null && (buffer.length < 2 || buffer.length < 2 + buffer.readUInt16BE(0));
    if (!waiting) this.partialSince = 0;
    else if (this.partialSince === 0) this.partialSince = performance.now();
    this.updateReading(buffer !== null && !waiting);
  }

  private updateReading(completeWaiting: boolean): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    // Everything asked has been answered (on a drain: everything taken in): our FIN follows the last reply.
    if (this.inFlight === 0 && (this.draining || (this.peerEnded && !completeWaiting))) {
      if (!this.ended) {
        this.ended = true;
        socket.end();
      }
      return;
    }
    const read = !this.peerEnded && !completeWaiting && this.mayTakeMore();
    if (read && socket.isPaused()) socket.resume();
    else if (!read && !socket.isPaused()) {
      socket.pause();
      if (socket.writableLength > this.host.maxUnsentBytes) this.host.pausedForUnsent();
    }
  }

  private handle(message: Buffer): void {
    const query = new Query();
    query.channel = this.host.channel;
    query.connection = this;
    query.client = this.client;
    query.clientPort = this.clientPort;
    query.device = this.device;
    query.deviceCertified = this.deviceCertified;
    query.receivedAt = performance.now();
    // Counted before dispatch: a synchronous answer calls reply(), which counts it down.
    this.inFlight++;
    let outcome: Dispatched = Dispatched.DROPPED;
    try {
      outcome = this.host.dispatcher.dispatch(message, query);
    } catch (error) {
      this.host.log.error({ err: error }, 'unexpected error handling a TCP query');
    }
    // No reply is coming for a dropped message, so it must not hold a slot.
    if (outcome === Dispatched.DROPPED) this.inFlight--;
  }
}
