import dgram from 'node:dgram';
import net from 'node:net';
import { formatHostPort, parseHostPort, type HostPort } from '../config/address.js';
import { nativeTcp } from './native-tcp.js';
import { nativeUdp } from './native-udp.js';

/** An address the primary could not claim, and over which protocol: the caller words it for the operator. */
export class ClaimError extends Error {
  constructor(
    readonly listen: string,
    readonly protocol: 'UDP' | 'TCP',
    readonly reason: NodeJS.ErrnoException,
  ) {
    super(`cannot serve DNS on ${listen} (${protocol}): ${reason.message}`);
  }
}

/** Port 0 is turned into a port free for UDP and TCP alike; tries this many kernel picks. */
const PICKS = 20;

/**
 * Whether workers will bind sockets of their own (SO_REUSEPORT): TCP whenever the addon is
 * built, UDP too when batching is on.
 */
export function usesOwnSockets(batching: boolean): boolean {
  return nativeTcp() !== null || (batching && nativeUdp() !== null);
}

/**
 * Sockets of their own bound with SO_REUSEPORT let any other process of the same user join
 * the port without an error. So the primary first binds every address alone, UDP and TCP,
 * proving it free (EADDRINUSE otherwise), and turns port 0 into the one port every worker
 * then binds. Returns the addresses with their ports; throws ClaimError.
 */
export async function claimPorts(listen: readonly string[], defaultPort: number): Promise<string[]> {
  const claimed: string[] = [];
  for (const text of listen) {
    const address = parseHostPort(text, defaultPort);
    claimed.push(formatHostPort({ ...address, port: await claimOne(text, address) }));
  }
  return claimed;
}

/** As claimPorts, for listeners on TCP only (DoT, DoH): proves each free and fixes port 0. */
export async function claimTcpPorts(listen: readonly string[], defaultPort: number): Promise<string[]> {
  const claimed: string[] = [];
  for (const text of listen) {
    const address = parseHostPort(text, defaultPort);
    const tcp = await bindTcp(address).catch((error: NodeJS.ErrnoException) => {
      throw new ClaimError(text, 'TCP', error);
    });
    claimed.push(formatHostPort({ ...address, port: (tcp.address() as net.AddressInfo).port }));
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
  }
  return claimed;
}

async function claimOne(text: string, address: HostPort): Promise<number> {
  for (let pick = 1; ; pick++) {
    const udp = await bindUdp(address).catch((error: NodeJS.ErrnoException) => {
      throw new ClaimError(text, 'UDP', error);
    });
    try {
      const port = udp.address().port;
      const tcp = await bindTcp({ ...address, port }).catch((error: NodeJS.ErrnoException) => {
        // The kernel's UDP pick may be taken for TCP: pick again.
        if (address.port === 0 && error.code === 'EADDRINUSE' && pick < PICKS) return null;
        throw new ClaimError(text, 'TCP', error);
      });
      if (tcp === null) continue;
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      return port;
    } finally {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    }
  }
}

function bindUdp(address: HostPort): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: address.family === 6 ? 'udp6' : 'udp4', ipv6Only: address.family === 6 });
  return new Promise((resolve, reject) => {
    socket.once('error', (error) => {
      try {
        socket.close();
      } catch {
        // never bound
      }
      reject(error);
    });
    socket.bind({ address: address.host, port: address.port, exclusive: true }, () => resolve(socket));
  });
}

function bindTcp(address: HostPort): Promise<net.Server> {
  const server = net.createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address.host, port: address.port, ipv6Only: address.family === 6, exclusive: true }, () => resolve(server));
  });
}
