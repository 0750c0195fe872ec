import { createRequire } from 'node:module';

/** One batched UDP socket (src/transport/native/udp-batch.c). */
export interface NativeUdpSocket {
  /** The port bound (the one asked for, or the kernel's pick for 0). */
  readonly port: number;
  /** Sends reply slots 0..count-1 in one call. */
  flush(count: number): void;
  /** One reply outside a batch. */
  sendTo(reply: Buffer, port: number, address: string): void;
  /** Stops reading; replies still go out. */
  pause(): void;
  close(): void;
  stats(): { received: number; batches: number; truncated: number; sent: number; dropped: number; queued: number };
}

export interface NativeUdp {
  /** Slots per batch, bytes per slot, int32s of metadata per slot (length, port, four address words). */
  readonly constants: { slots: number; slotBytes: number; meta: number };
  open(
    options: { address: string; port: number; family: 4 | 6; bufferBytes: number; reusePort: 0 | 1 },
    input: Uint8Array,
    inputMeta: Int32Array,
    output: Uint8Array,
    outputMeta: Int32Array,
    onBatch: (count: number) => void,
  ): NativeUdpSocket;
}

let loaded: NativeUdp | null | undefined;

/**
 * The addon `npm ci` builds (binding.gyp), or null where it is missing or offers nothing
 * (not Linux): the caller then uses Node's dgram. Same depth from src/ and dist/.
 */
export function nativeUdp(): NativeUdp | null {
  if (loaded === undefined) {
    try {
      const addon = createRequire(import.meta.url)('../../build/Release/udp_batch.node') as Partial<NativeUdp>;
      loaded = typeof addon.open === 'function' ? (addon as NativeUdp) : null;
    } catch {
      loaded = null;
    }
  }
  return loaded;
}
