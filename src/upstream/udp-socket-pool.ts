import type { ConnectedSocket, DatagramReceiver, OpenConnectedSocket } from './connected-socket.js';
import type { ExchangeCounters } from './exchange-counters.js';

/** Sockets one worker keeps open towards one server: enough that their receive buffers together hold thousands of answers in flight. */
export const POOL_SIZE = 32;
/** DNS message IDs are 16 bits. */
const ID_SPACE = 1 << 16;
/** Queries one socket sends before a fresh socket, on a new random port, takes its place. */
export const SOCKET_USES = 1000;
/** …or this long after it opened, whichever comes first. */
export const SOCKET_AGE_MS = 30_000;

/** What the pool needs of a UDP attempt. */
export interface PooledAttempt {
  readonly query: Buffer;
  readonly expected: { readonly id: number };
  /** A datagram from the server carrying this attempt's ID, valid during the call: the attempt checks the rest. */
  receive(message: Buffer): void;
  /** The socket failed (an ICMP port unreachable shows up as ECONNREFUSED). */
  fail(error: Error): void;
}

/**
 * Queries asked in this turn of the event loop, sent once its JavaScript is done: after the
 * listener has sent the replies of the same batch's cache hits. Sent in the middle of the
 * batch, each query wakes the server, which on a busy machine takes the CPU from the worker
 * while those replies still wait.
 */
const postedSockets: Array<PooledSocket | null> = [];
const postedQueries: Array<Buffer | null> = [];
let posted = 0;

function post(socket: PooledSocket, query: Buffer): void {
  postedSockets[posted] = socket;
  postedQueries[posted] = query;
  if (posted++ === 0) process.nextTick(sendPosted);
}

function sendPosted(): void {
  const count = posted;
  posted = 0;
  for (let i = 0; i < count; i++) {
    const socket = postedSockets[i]!;
    const query = postedQueries[i]!;
    postedSockets[i] = null;
    postedQueries[i] = null;
    socket.transmit(query);
  }
}

/**
 * One connected socket of a pool: the kernel picked its source port at random and drops
 * datagrams from any other address or port. Waiting attempts are found by query ID.
 */
export class PooledSocket implements DatagramReceiver {
  private readonly socket: ConnectedSocket;
  private readonly waiting = new Map<number, PooledAttempt>();
  /**
   * IDs of attempts that ended here, one bit each: an answer to one arriving late is not a
   * forgery. A Set of up to SOCKET_USES numbers grew (rehashing as it went) on every answer,
   * 1.4 % of a worker's CPU under the miss workload; 8 KiB a socket covers every ID.
   */
  private readonly ended = new Uint8Array(ID_SPACE >> 3);
  private uses = 0;
  private readonly openedAt = Date.now();
  private retired = false;
  private closed = false;

  constructor(
    host: string,
    port: number,
    family: 4 | 6,
    private readonly counters: ExchangeCounters,
    open: OpenConnectedSocket,
  ) {
    this.socket = open(host, port, family, this);
  }

  /** Whether it has carried its share of queries or lived its time. */
  worn(now: number): boolean {
    return this.uses >= SOCKET_USES || now - this.openedAt >= SOCKET_AGE_MS;
  }

  has(id: number): boolean {
    return this.waiting.has(id);
  }

  send(attempt: PooledAttempt): void {
    this.waiting.set(attempt.expected.id, attempt);
    this.uses++;
    post(this, attempt.query);
  }

  /** Sends a query posted earlier in this turn, unless the socket closed meanwhile. */
  transmit(query: Buffer): void {
    if (!this.closed) this.socket.send(query);
  }

  /** The attempt is over: forget it, and close a retired socket once nothing waits on it. */
  release(attempt: PooledAttempt): void {
    const id = attempt.expected.id;
    if (this.waiting.get(id) !== attempt) return;
    this.waiting.delete(id);
    this.ended[id >> 3]! |= 1 << (id & 7);
    if (this.retired && this.waiting.size === 0) this.shut();
  }

  private shut(): void {
    this.closed = true;
    this.socket.close();
  }

  /** Takes no new queries; closes once the waiting ones are over. */
  retire(): void {
    this.retired = true;
    if (this.waiting.size === 0) this.shut();
  }

  close(): void {
    this.retired = true;
    this.waiting.clear();
    this.shut();
  }

  received(message: Buffer): void {
    if (message.length < 2) {
      this.counters.rejectedMalformed++;
      return;
    }
    const id = message.readUInt16BE(0);
    const attempt = this.waiting.get(id);
    if (attempt !== undefined) attempt.receive(message);
    else if ((this.ended[id >> 3]! & (1 << (id & 7))) === 0) this.counters.rejectedId++;
  }

  foreign(): void {
    this.counters.rejectedSource++;
  }

  unreadable(): void {
    this.counters.rejectedMalformed++;
  }

  failed(error: Error): void {
    for (const attempt of [...this.waiting.values()]) attempt.fail(error);
  }
}

/**
 * The UDP sockets one worker asks one server over. Opening, binding, connecting and closing
 * a socket per query cost more than the query; a few sockets on kernel-chosen random ports
 * serve instead, each replaced by a fresh one (a new random port) after SOCKET_USES
 * queries or SOCKET_AGE_MS, as Unbound's outgoing-range keeps ports moving (RFC 5452 §9.2).
 * An answer must come from the server's address and port (the socket is connected), carry
 * the ID of an attempt waiting on that socket, and match its question and case.
 */
export class UdpSocketPool {
  private readonly sockets: (PooledSocket | null)[] = new Array<PooledSocket | null>(POOL_SIZE).fill(null);

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly family: 4 | 6,
    private readonly counters: ExchangeCounters,
    private readonly open: OpenConnectedSocket,
  ) {}

  /** Sends the attempt from a random socket where its ID is free; null when none is (it then needs a new ID). */
  send(attempt: PooledAttempt): PooledSocket | null {
    const now = Date.now();
    const start = (Math.random() * POOL_SIZE) | 0;
    for (let i = 0; i < POOL_SIZE; i++) {
      const index = (start + i) % POOL_SIZE;
      let socket = this.sockets[index]!;
      if (socket === null || socket.worn(now)) {
        socket?.retire();
        socket = this.sockets[index] = new PooledSocket(this.host, this.port, this.family, this.counters, this.open);
      }
      if (socket.has(attempt.expected.id)) continue;
      socket.send(attempt);
      return socket;
    }
    return null;
  }

  close(): void {
    for (const socket of this.sockets) socket?.close();
    this.sockets.fill(null);
  }
}
