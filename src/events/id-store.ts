/**
 * Where the hub's id high-water mark is kept, so that ids never repeat, not even after a
 * crash: the hub reserves ids in blocks and persists each reservation before it hands out
 * the first id of the block; a restart continues above the reservation. The history keeps
 * it (history/id-reservation.ts); a node without history can keep it in a file (id-file.ts).
 */
export interface IdStore {
  /** Highest id reserved so far (0 when none). */
  reserved(): number;
  /** Persists that ids up to `through` may be in use. Never throws: a failure shows in degraded(). */
  reserve(through: number): void;
  /**
   * On a graceful stop, once nothing more is numbered: ids after `lastUsed` were never handed
   * out, so the next start continues right after it instead of after the whole block.
   */
  release(lastUsed: number): void;
  /** Why reservations cannot be stored right now (ids might then repeat after a crash), or null. */
  degraded(): string | null;
}

/** Ids reserved per write: a crash skips at most this many, and at most one write per block. */
export const ID_BLOCK = 10_000;
