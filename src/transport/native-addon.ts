import { createRequire } from 'node:module';

let loaded: Record<string, unknown> | null | undefined;

/**
 * The addon `npm ci` builds (binding.gyp: batched UDP and per-worker TCP listening
 * sockets), or null where it is missing; same depth from src/ and dist/. Its parts are
 * offered only where they work (Linux); elsewhere the callers use Node's dgram and net.
 */
export function nativeAddon(): Record<string, unknown> | null {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)('../../build/Release/udp_batch.node') as Record<string, unknown>;
    } catch {
      loaded = null;
    }
  }
  return loaded;
}
