import { nativeAddon } from './native-addon.js';

/** A TCP listening socket of the addon (src/transport/native/tcp-listen.c). */
export interface NativeTcpListener {
  /** The port bound (the one asked for, or the kernel's pick for 0). */
  readonly port: number;
  /** Stops listening: the kernel refuses new connections and resets those still queued. */
  close(): void;
  stats(): { accepted: number; refused: number; failures: number };
}

/**
 * Called with each accepted connection's descriptor and peer; returns true when it took the
 * descriptor (wrapped it in a net.Socket), false to have it refused with a reset.
 */
export type AcceptCallback = (fd: number, address: string, port: number) => boolean;

export interface NativeTcp {
  listenTcp(options: { address: string; port: number; family: 4 | 6; backlog: number; reusePort: 0 | 1 }, onAccept: AcceptCallback): NativeTcpListener;
}

/** The addon's TCP listener, or null where it is missing or offers none (not Linux): the caller then uses net.Server. */
export function nativeTcp(): NativeTcp | null {
  const addon = nativeAddon();
  return addon !== null && typeof addon.listenTcp === 'function' ? (addon as unknown as NativeTcp) : null;
}
