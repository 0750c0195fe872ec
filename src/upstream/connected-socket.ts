/** What a pool socket tells its pool (udp-socket-pool.ts). */
export interface DatagramReceiver {
  /** A datagram from the server: valid only during the call (it may be a view of a buffer the next batch refills). */
  received(message: Buffer): void;
  /** A datagram from another address or port than the server's: the kernel drops those for a connected socket, checked anyway. */
  foreign(): void;
  /** A datagram longer than the socket reads (more than any answer advertised for): nothing of it is trusted. */
  unreadable(): void;
  /** The socket failed; an ICMP port unreachable from the server shows up as ECONNREFUSED. */
  failed(error: Error): void;
}

/** A UDP socket connected to one server, from a port the kernel picked at random. */
export interface ConnectedSocket {
  /** Sends now, or once the socket is ready; a refusal comes back through the receiver's failed(). */
  send(query: Buffer): void;
  close(): void;
}

/**
 * Opens one: on Node's dgram (dgram-socket.ts, the default), or on the batching addon where
 * the process offers it (the server assembles that one).
 */
export type OpenConnectedSocket = (host: string, port: number, family: 4 | 6, receiver: DatagramReceiver) => ConnectedSocket;
