import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { HostPort } from '../config/address.js';
import { BatchUdpListener } from './batch-udp-listener.js';
import type { Dispatcher } from './dispatcher.js';
import { nativeUdp } from './native-udp.js';
import { UdpListener, type UdpEndpoint } from './udp-listener.js';

/**
 * The batched socket when asked for and built here, else Node's dgram. In a cluster worker
 * the batched socket shares its port with the other `workers`' (see claimPorts), and the
 * kernel hands each query to one of them by its ID.
 */
export function openUdpEndpoint(address: HostPort, batching: boolean, workers: number, dispatcher: Dispatcher, log: Logger): UdpEndpoint {
  const native = batching ? nativeUdp() : null;
  return native === null
    ? new UdpListener(address.host, address.port, address.family, dispatcher, log)
    : new BatchUdpListener(native, address.host, address.port, address.family, cluster.isWorker ? workers : 0, dispatcher, log);
}
