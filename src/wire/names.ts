import { MAX_NAME_LENGTH } from './constants.js';

/**
 * Returns the offset just past the (possibly compressed) name at `pos`, or -1 when it is
 * malformed. Pointers are not followed: skipping needs none, and not following them is
 * what makes pointer-loop packets cost nothing.
 */
export function skipName(msg: Buffer, pos: number, end: number): number {
  let total = 0;
  for (;;) {
    if (pos >= end) return -1;
    const len = msg[pos]!;
    if (len === 0) return pos + 1;
    const kind = len & 0xc0;
    if (kind === 0xc0) return pos + 2 <= end ? pos + 2 : -1;
    if (kind !== 0) return -1;
    total += len + 1;
    if (total > MAX_NAME_LENGTH) return -1;
    pos += len + 1;
  }
}

/** ASCII case-insensitive comparison of two byte ranges of equal length. */
export function equalsIgnoreCase(a: Buffer, aStart: number, b: Buffer, bStart: number, length: number): boolean {
  for (let i = 0; i < length; i++) {
    let x = a[aStart + i]!;
    let y = b[bStart + i]!;
    if (x === y) continue;
    if (x >= 0x41 && x <= 0x5a) x |= 0x20;
    if (y >= 0x41 && y <= 0x5a) y |= 0x20;
    if (x !== y) return false;
  }
  return true;
}
