import dgram from 'node:dgram';

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
