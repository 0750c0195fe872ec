import { nativeAddon } from '../transport/native-addon.js';

/** The addon's part for memory the primary shares with its workers (`src/cache/native/shared-memory.c`). */
export interface SharedMemoryAddon {
  create(bytes: number): number;
  map(fd: number, lengths: number[]): ArrayBuffer[];
  sealedCopy(fd: number): number;
  mapReadOnly(fd: number): ArrayBuffer;
  yield(): void;
}

export function sharedMemoryAddon(): SharedMemoryAddon | null {
  return (nativeAddon()?.['sharedMemory'] as SharedMemoryAddon | undefined) ?? null;
}

/**
 * The descriptors a worker inherits from its primary, after stdin, stdout, stderr and the
 * IPC channel: the shared cache's memory, then the sealed copies of the GeoIP databases.
 * One that is not shared is /dev/null.
 */
export const INHERITED_FD = { cache: 4, country: 5, asn: 6 } as const;
