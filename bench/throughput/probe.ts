/**
 * A one-question UDP client for start-up and sanity checks (the load itself is dnsperf's);
 * it needs only the rcode and the answer count, so it reads the header and nothing else.
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';

export interface ProbeReply {
  rcode: 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED' | `RCODE${number}`;
  answers: number;
}

const TYPES = { A: 1, AAAA: 28 } as const;
const RCODES: Record<number, ProbeReply['rcode']> = { 0: 'NOERROR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 5: 'REFUSED' };

function query(id: number, name: string, type: keyof typeof TYPES): Buffer {
  const labels = name.split('.').filter(Boolean).map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'ascii')]));
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(TYPES[type], 1);
  tail.writeUInt16BE(1, 3); // class IN
  return Buffer.concat([header, ...labels, tail]);
}

/** Asks 127.0.0.1:port once; null on timeout. */
export function ask(port: number, name: string, type: keyof typeof TYPES = 'A', timeoutMs = 1000): Promise<ProbeReply | null> {
  const id = randomInt(0x10000);
  const socket = dgram.createSocket('udp4');
  return new Promise<ProbeReply | null>((resolve) => {
    const done = (reply: ProbeReply | null): void => {
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('error', () => done(null));
    socket.on('message', (message) => {
      if (message.length < 12 || message.readUInt16BE(0) !== id) return;
      const code = message[3]! & 0x0f;
      done({ rcode: RCODES[code] ?? `RCODE${code}`, answers: message.readUInt16BE(6) });
    });
    socket.send(query(id, name, type), port, '127.0.0.1');
  });
}
