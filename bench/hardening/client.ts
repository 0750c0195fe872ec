/** A small UDP DNS client for the reproductions: one question, its rcode, flags and Extended DNS Error. */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { encodeQuery } from '../../test/support/packets.js';

export interface Reply {
  rcode: number;
  flags: number;
  answers: number;
  /** Extended DNS Error info-code, or -1. */
  ede: number;
  ms: number;
}

export interface AskOptions {
  type?: number;
  localAddress?: string;
  timeoutMs?: number;
}

function skipName(msg: Buffer, pos: number): number {
  while (pos < msg.length) {
    const len = msg[pos]!;
    if (len === 0) return pos + 1;
    if ((len & 0xc0) === 0xc0) return pos + 2;
    pos += len + 1;
  }
  return msg.length;
}

/** The header fields and the Extended DNS Error of a reply. */
export function decode(msg: Buffer, ms: number): Reply {
  const flags = msg.readUInt16BE(2);
  let ede = -1;
  let pos = 12;
  for (let i = 0; i < msg.readUInt16BE(4); i++) pos = skipName(msg, pos) + 4;
  const records = msg.readUInt16BE(6) + msg.readUInt16BE(8) + msg.readUInt16BE(10);
  for (let i = 0; i < records && pos < msg.length; i++) {
    pos = skipName(msg, pos);
    const type = msg.readUInt16BE(pos);
    const rdlength = msg.readUInt16BE(pos + 8);
    if (type === 41) {
      for (let at = pos + 10; at + 4 <= pos + 10 + rdlength; at += 4 + msg.readUInt16BE(at + 2)) {
        if (msg.readUInt16BE(at) === 15) ede = msg.readUInt16BE(at + 4);
      }
    }
    pos += 10 + rdlength;
  }
  return { rcode: flags & 0xf, flags, answers: msg.readUInt16BE(6), ede, ms };
}

/** Asks 127.0.0.1:port once from a fresh socket (so a fresh source port); null on timeout. */
export function ask(port: number, name: string, options: AskOptions = {}): Promise<Reply | null> {
  const id = randomInt(0x10000);
  const socket = dgram.createSocket('udp4');
  const started = performance.now();
  return new Promise<Reply | null>((resolve) => {
    const done = (reply: Reply | null): void => {
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    };
    const timer = setTimeout(() => done(null), options.timeoutMs ?? 3000);
    socket.on('error', () => done(null));
    socket.on('message', (message) => {
      if (message.length >= 12 && message.readUInt16BE(0) === id) done(decode(message, performance.now() - started));
    });
    socket.bind(0, options.localAddress ?? '127.0.0.1', () => socket.send(encodeQuery(name, options.type ?? 1, { id }), port, '127.0.0.1'));
  });
}
