import { getSystemErrorName } from 'node:util';
import { batchBuffers, nativeUdp, type BatchBuffers, type NativeUdp, type NativeUdpSocket } from '../transport/native-udp.js';
import type { ConnectedSocket, DatagramReceiver, OpenConnectedSocket } from '../upstream/connected-socket.js';

/** What the addon's socket reports in a slot's length (src/transport/native/udp-batch.c). */
const LONGER_THAN_A_SLOT = -1;
const FROM_ANOTHER_SOURCE = -2;

/** Node's error shape for an errno the addon reports, so failures read as dgram's did ("ECONNREFUSED"). */
function socketError(errno: number, syscall: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(-errno);
  return Object.assign(new Error(`${syscall} ${code}`), { code, errno: -errno, syscall });
}

/**
 * A pool socket on the batching addon: answers arrive in batches read with recvmmsg(2) into
 * the shared buffers, with no receive buffer, Buffer or address object per datagram, and a
 * query goes out with one send(2) and no request object.
 */
class BatchedSocket implements ConnectedSocket {
  private readonly socket: NativeUdpSocket;
  private closed = false;

  constructor(
    native: NativeUdp,
    private readonly batch: BatchBuffers,
    host: string,
    port: number,
    family: 4 | 6,
    private readonly receiver: DatagramReceiver,
  ) {
    const options = { address: family === 6 ? '::' : '0.0.0.0', port: 0, family, bufferBytes: 0, reusePort: 0, spread: 0, peer: host, peerPort: port } as const;
    this.socket = native.open(options, batch.input, batch.inputMeta, batch.output, batch.outputMeta, this.onBatch);
  }

  send(query: Buffer): void {
    if (this.closed) return;
    const errno = this.socket.send(query);
    if (errno !== 0) this.receiver.failed(socketError(errno, 'send'));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }

  private readonly onBatch = (count: number): void => {
    const { batch, receiver } = this;
    if (count < 0) {
      receiver.failed(socketError(-count, 'recvmmsg'));
      return;
    }
    for (let i = 0; i < count && !this.closed; i++) {
      const length = batch.inputMeta[i * batch.meta]!;
      if (length === FROM_ANOTHER_SOURCE) receiver.foreign();
      else if (length === LONGER_THAN_A_SLOT) receiver.unreadable();
      else receiver.received(batch.input.subarray(i * batch.slotBytes, i * batch.slotBytes + length));
    }
  };
}

/**
 * The buffers every upstream socket of the process reads into, made when the first opens.
 * One set serves them all: a batch is handed to JavaScript, which copies what it keeps
 * (scanResponse), before any socket reads again. The output half goes unused: connected
 * sockets send one query at a time.
 */
let shared: BatchBuffers | null = null;

function openBatchedSocket(native: NativeUdp, host: string, port: number, family: 4 | 6, receiver: DatagramReceiver): ConnectedSocket {
  return new BatchedSocket(native, (shared ??= batchBuffers(native)), host, port, family, receiver);
}

/**
 * How the upstream pools open their sockets in this process: on the addon when UDP batching
 * is on and the addon offers it (Linux), else null (they keep Node's dgram).
 */
export function batchedUpstreamSockets(batching: boolean): OpenConnectedSocket | null {
  const native = batching ? nativeUdp() : null;
  return native === null ? null : (host, port, family, receiver) => openBatchedSocket(native, host, port, family, receiver);
}
