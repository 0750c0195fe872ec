import cluster from 'node:cluster';
import dgram from 'node:dgram';
import type { Logger } from 'pino';
import { formatHostPort, parseHostPort, type HostPort } from '../config/address.js';
import { BatchUdpListener } from './batch-udp-listener.js';
import type { Dispatcher } from './dispatcher.js';
import { nativeUdp } from './native-udp.js';
import { UdpListener, type UdpEndpoint } from './udp-listener.js';

/**
 * The batched socket when asked for and built here, else Node's dgram. In a cluster worker
 * the batched socket shares its port with the other workers' (see claimUdpPorts).
 */
export function openUdpEndpoint(address: HostPort, batching: boolean, dispatcher: Dispatcher, log: Logger): UdpEndpoint {
  const native = batching ? nativeUdp() : null;
  return native === null
    ? new UdpListener(address.host, address.port, address.family, dispatcher, log)
    : new BatchUdpListener(native, address.host, address.port, address.family, cluster.isWorker, dispatcher, log);
}

/** Whether workers will bind batched sockets of their own (SO_REUSEPORT) rather than share one. */
export function usesOwnSockets(batching: boolean): boolean {
  return batching && nativeUdp() !== null;
}

/**
 * Each worker binds a batched socket of its own with SO_REUSEPORT, which lets any other
 * process of the same user join the port without an error. So the primary first binds
 * every address alone, proving it free (EADDRINUSE otherwise), and turns port 0 into the
 * one port every worker then binds. Returns the addresses with their ports.
 */
export async function claimUdpPorts(listen: readonly string[], defaultPort: number): Promise<string[]> {
  const claimed: string[] = [];
  for (const text of listen) {
    const address = parseHostPort(text, defaultPort);
    const socket = dgram.createSocket({ type: address.family === 6 ? 'udp6' : 'udp4', ipv6Only: address.family === 6 });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ address: address.host, port: address.port, exclusive: true }, () => resolve());
      });
      claimed.push(formatHostPort({ ...address, port: socket.address().port }));
    } catch (error) {
      throw new Error(`cannot serve DNS on ${text}: ${(error as Error).message}`);
    } finally {
      await new Promise<void>((resolve) => {
        try {
          socket.close(() => resolve());
        } catch {
          resolve(); // never bound
        }
      });
    }
  }
  return claimed;
}
