import dgram from 'node:dgram';
import { encodeQuery } from './packets.js';

export interface LoadResult {
  sent: number;
  answered: number;
}

/**
 * Sends `count` copies of `query` (IDs varied) to a UDP server with at most `window` in
 * flight, bounded by `timeoutMs`; counts answers. A bounded load for loopback tests.
 */
export async function udpLoad(server: { host: string; port: number }, query: Buffer, count: number, window: number, timeoutMs: number): Promise<LoadResult> {
  const socket = dgram.createSocket('udp4');
  const packet = Buffer.from(query);
  let sent = 0;
  let answered = 0;
  await new Promise<void>((resolve) => {
    const deadline = setTimeout(resolve, timeoutMs);
    const sendOne = (): void => {
      if (sent >= count) return;
      packet.writeUInt16BE(sent & 0xffff, 0);
      sent++;
      socket.send(packet, server.port, server.host);
    };
    socket.on('message', () => {
      answered++;
      if (answered === count) {
        clearTimeout(deadline);
        resolve();
      } else sendOne();
    });
    for (let i = 0; i < window; i++) sendOne();
  });
  socket.close();
  return { sent, answered };
}

export interface StreamResult {
  sent: number;
  byRcode: Record<number, number>;
  unanswered: number;
  seconds: number;
}

/**
 * Sends `count` queries from one socket with at most `window` outstanding, names from
 * `nameOf(i)`; an unanswered query frees its place after `lossMs`. Bounded by `timeoutMs`.
 */
export async function udpStream(port: number, count: number, window: number, nameOf: (i: number) => string, type: number, options: { localAddress?: string; timeoutMs?: number; lossMs?: number } = {}): Promise<StreamResult> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, options.localAddress ?? '127.0.0.1', resolve));
  const outstanding = new Map<number, number>();
  const byRcode: Record<number, number> = {};
  let sent = 0;
  let unanswered = 0;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const finish = (): void => {
      clearTimeout(deadline);
      clearInterval(sweeper);
      resolve();
    };
    const deadline = setTimeout(finish, options.timeoutMs ?? 120_000);
    const sendNext = (): void => {
      while (sent < count && outstanding.size < window) {
        const id = sent & 0xffff;
        outstanding.set(id, performance.now());
        socket.send(query(id, nameOf(sent), type), port, '127.0.0.1');
        sent++;
      }
      if (sent >= count && outstanding.size === 0) finish();
    };
    const sweeper = setInterval(() => {
      const now = performance.now();
      for (const [id, at] of outstanding) {
        if (now - at > (options.lossMs ?? 2000)) {
          outstanding.delete(id);
          unanswered++;
        }
      }
      sendNext();
    }, 100);
    socket.on('message', (message) => {
      const id = message.readUInt16BE(0);
      if (!outstanding.delete(id)) return;
      const rcode = message[3]! & 0xf;
      byRcode[rcode] = (byRcode[rcode] ?? 0) + 1;
      sendNext();
    });
    sendNext();
  });
  socket.close();
  return { sent, byRcode, unanswered: unanswered + outstanding.size, seconds: (performance.now() - started) / 1000 };
}

/** A query for NAME/TYPE (class IN, RD, EDNS with 1232 bytes). */
function query(id: number, name: string, type: number): Buffer {
  return encodeQuery(name, type, { id, edns: { udp: 1232 } });
}
