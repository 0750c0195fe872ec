import dgram from 'node:dgram';
import type { ConnectedSocket, DatagramReceiver } from './connected-socket.js';

/**
 * A pool socket on Node's dgram: where the batching addon is missing or turned off. Each
 * answer costs a receive buffer, a Buffer and an address object, and a second receive call
 * that finds the socket empty; the addon's socket costs none of these.
 */
class DgramSocket implements ConnectedSocket {
  private readonly socket: dgram.Socket;
  /** Queries sent before the socket finished connecting (dgram refuses them until then). */
  private queued: Buffer[] | null = [];
  private closed = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    family: 4 | 6,
    private readonly receiver: DatagramReceiver,
  ) {
    this.socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    // One closure per socket, not per query.
    this.socket.on('message', (message, source) => this.received(message, source));
    this.socket.on('error', (error) => receiver.failed(error));
    this.socket.connect(port, host, () => this.connected());
    // An idle pool must not keep a stopping worker alive.
    this.socket.unref();
  }

  send(query: Buffer): void {
    if (this.closed) return;
    if (this.queued === null) this.socket.send(query);
    else this.queued.push(query);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queued = null;
    this.socket.close();
  }

  private connected(): void {
    const queued = this.queued;
    this.queued = null;
    if (this.closed || queued === null) return;
    for (const query of queued) this.socket.send(query);
  }

  private received(message: Buffer, source: dgram.RemoteInfo): void {
    if (source.port !== this.port || source.address !== this.host) this.receiver.foreign();
    else this.receiver.received(message);
  }
}

export function openDgramSocket(host: string, port: number, family: 4 | 6, receiver: DatagramReceiver): ConnectedSocket {
  return new DgramSocket(host, port, family, receiver);
}
