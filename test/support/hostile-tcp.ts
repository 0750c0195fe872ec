/**
 * What a hostile DNS-over-TCP client does, for tests, the hardening reproductions and the soak:
 * connections that never send, a sender that trickles one byte at a time, and a client that
 * pipelines queries and never reads the replies. Loopback only; every loop is bounded.
 */
import net from 'node:net';
import { encodeQuery } from './packets.js';

export interface Target {
  host: string;
  port: number;
}

/** A query frame (RFC 7766 length prefix) for NAME/TYPE with ID `id`. */
export function framedQuery(name: string, type: number, id: number): Buffer {
  const message = encodeQuery(name, type, { id });
  const length = Buffer.alloc(2);
  length.writeUInt16BE(message.length);
  return Buffer.concat([length, message]);
}

/**
 * Resolves once connected, or with null when the connection fails or closes first (within
 * `timeoutMs`). Half-open allowed: a FIN from the server is not answered with one.
 */
export function connect(target: Target, localAddress?: string, timeoutMs = 5000): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: target.host, port: target.port, allowHalfOpen: true, ...(localAddress === undefined ? {} : { localAddress }) });
    const timer = setTimeout(() => done(null), timeoutMs);
    const done = (result: net.Socket | null): void => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      if (result === null) socket.destroy();
      resolve(result);
    };
    const onConnect = (): void => done(socket);
    socket.once('connect', onConnect);
    socket.on('error', () => done(null));
  });
}

/** Sockets opened by openIdle, with how many the server has closed since. */
export class IdleConnections {
  readonly sockets: net.Socket[] = [];
  closedByServer = 0;

  /** Connections still open from this side and not ended by the server. */
  get open(): number {
    return this.sockets.filter((socket) => !socket.destroyed && !socket.readableEnded).length;
  }

  closeAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }
}

/**
 * Opens `count` connections (at most `parallel` connecting at once) that never send a byte,
 * and keeps them open from this side even after the server's FIN (half-open, as an
 * attacker would).
 */
export async function openIdle(target: Target, count: number, localAddress?: string, parallel = 200): Promise<IdleConnections> {
  const idle = new IdleConnections();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      const socket = await connect(target, localAddress, 3000);
      if (socket === null) {
        idle.closedByServer++;
        continue;
      }
      socket.on('end', () => idle.closedByServer++);
      socket.on('error', () => undefined);
      socket.resume();
      idle.sockets.push(socket);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  return idle;
}

/**
 * Sends one query a byte at a time, one byte per `intervalMs`, never completing it within
 * `maxMs`; resolves with the milliseconds until the server closed the connection, or null
 * when it was still open at the end.
 */
export async function slowloris(target: Target, intervalMs: number, maxMs: number, localAddress?: string): Promise<number | null> {
  const socket = await connect(target, localAddress);
  if (socket === null) return 0;
  const started = Date.now();
  const frame = framedQuery('slow.example.nl', 1, 1);
  return new Promise((resolve) => {
    let sent = 0;
    const finish = (result: number | null): void => {
      clearInterval(timer);
      clearTimeout(limit);
      socket.destroy();
      resolve(result);
    };
    const timer = setInterval(() => {
      // Never the last byte: the message must stay incomplete.
      if (sent < frame.length - 1 && socket.writable) socket.write(frame.subarray(sent, ++sent));
      else if (sent >= frame.length - 1) sent = 0;
    }, intervalMs);
    const limit = setTimeout(() => finish(null), maxMs);
    socket.on('end', () => finish(Date.now() - started));
    socket.on('close', () => finish(Date.now() - started));
    socket.on('error', () => finish(Date.now() - started));
    socket.resume();
  });
}

/**
 * Writes `count` framed queries for NAME/TYPE on one connection and never reads a reply:
 * the replies pile up in the server unless it stops reading. Returns the socket (paused).
 */
export async function unreadPipeline(target: Target, name: string, type: number, count: number, localAddress?: string): Promise<net.Socket | null> {
  const socket = await connect(target, localAddress);
  if (socket === null) return null;
  socket.pause();
  socket.on('error', () => undefined);
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) frames.push(framedQuery(name, type, i & 0xffff));
  // The kernel takes what it can; the rest waits in this process until the server reads.
  socket.write(Buffer.concat(frames));
  return socket;
}
