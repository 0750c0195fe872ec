import { nativeAddon } from './native-addon.js';

/** One batched UDP socket (src/transport/native/udp-batch.c). */
export interface NativeUdpSocket {
  /** The port bound (the one asked for, or the kernel's pick for 0). */
  readonly port: number;
  /** Sends reply slots 0..count-1 in one call. */
  flush(count: number): void;
  /** One reply outside a batch. */
  sendTo(reply: Buffer, port: number, address: string): void;
  /** One datagram to the peer of a socket opened with one: 0, or the errno that refused it. */
  send(datagram: Buffer): number;
  /** Stops reading; replies still go out. */
  pause(): void;
  close(): void;
  stats(): { received: number; batches: number; truncated: number; sent: number; dropped: number; queued: number };
}

export interface NativeUdp {
  /** Slots per batch, bytes per slot, int32s of metadata per slot (length, port, four address words). */
  readonly constants: { slots: number; slotBytes: number; meta: number };
  open(
    /** spread: with reusePort, the sockets the port's group will hold, queries handed out by ID modulo it (0 or 1: the kernel's hash of the peer). */
    options: {
      address: string;
      port: number;
      family: 4 | 6;
      bufferBytes: number;
      reusePort: 0 | 1;
      spread: number;
      /** Connects the socket to this server: onBatch's count < 0 is then -errno (the server refused a query). */
      peer?: string;
      peerPort?: number;
    },
    input: Uint8Array,
    inputMeta: Int32Array,
    output: Uint8Array,
    outputMeta: Int32Array,
    onBatch: (count: number) => void,
  ): NativeUdpSocket;
}

/** The addon's batched UDP socket, or null where it is missing or offers none (not Linux): the caller then uses Node's dgram. */
export function nativeUdp(): NativeUdp | null {
  const addon = nativeAddon();
  return addon !== null && typeof addon.open === 'function' ? (addon as unknown as NativeUdp) : null;
}

/** The buffers open() reads batches into and sends them from, sized by the addon's constants. */
export interface BatchBuffers {
  readonly slots: number;
  readonly slotBytes: number;
  readonly meta: number;
  readonly input: Buffer;
  readonly inputMeta: Int32Array;
  readonly output: Buffer;
  readonly outputMeta: Int32Array;
}

export function batchBuffers(native: NativeUdp): BatchBuffers {
  const { slots, slotBytes, meta } = native.constants;
  return {
    slots,
    slotBytes,
    meta,
    input: Buffer.alloc(slots * slotBytes),
    inputMeta: new Int32Array(slots * meta),
    output: Buffer.alloc(slots * slotBytes),
    outputMeta: new Int32Array(slots * meta),
  };
}
