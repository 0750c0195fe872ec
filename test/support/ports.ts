import dgram from 'node:dgram';
import net from 'node:net';

/**
 * Ports below the kernel's ephemeral range (32768–60999 on Linux by default): no client
 * socket anywhere on the machine is ever given one, so a port found free here stays free
 * until a test binds it. A port from the ephemeral range could be handed to some other
 * process's outgoing socket between the check and the bind (seen as EADDRINUSE under load).
 */
const RANGE_START = 20_000;
const RANGE_END = 32_768;
/** Each test process starts at a different place and never hands out a port twice. */
let next = RANGE_START + (process.pid * 7919) % (RANGE_END - RANGE_START);
const handedOut = new Set<number>();

/** A port free for both UDP and TCP on 127.0.0.1 and ::1 (the resolver binds both protocols). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = next;
    next = next + 1 === RANGE_END ? RANGE_START : next + 1;
    if (handedOut.has(port)) continue;
    if ((await tcpFree(port, '127.0.0.1')) && (await udpFree(port, '127.0.0.1')) && (await udpFree(port, '::1')) && (await tcpFree(port, '::1'))) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no port free for both UDP and TCP in ${RANGE_START}-${RANGE_END} after 500 tries`);
}

function tcpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, ipv6Only: host.includes(':') }, () => server.close(() => resolve(true)));
  });
}

function udpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(host.includes(':') ? { type: 'udp6', ipv6Only: true } : { type: 'udp4' });
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, host, () => socket.close(() => resolve(true)));
  });
}
