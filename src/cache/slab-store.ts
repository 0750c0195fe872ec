/**
 * Byte storage for cached answers: 64 KiB pages cut into chunks of fixed size classes, so
 * a million answers cost a few thousand buffers instead of a million. A chunk is named by a
 * 32-bit address (page number, then its offset in 16-byte units), which fits a typed array.
 *
 * Classes grow in 16-byte steps up to 256 bytes, then by an eighth, so no chunk wastes more
 * than 12.5 % of itself. Pages are never handed back between classes: in a cache at its
 * entry limit, freed chunks are reused by the next answers of the same size.
 */
const PAGE_SIZE = 65_536;
const UNIT_SHIFT = 4;
const OFFSET_BITS = 12;
const OFFSET_MASK = (1 << OFFSET_BITS) - 1;
/** The largest chunk; bigger blocks (rare, e.g. large TXT over TCP) go to a buffer of their own. */
export const MAX_CHUNK = 16_384;

function classSizes(): number[] {
  const sizes: number[] = [];
  for (let size = 16; size <= 256; size += 16) sizes.push(size);
  let size = 256;
  while (size < MAX_CHUNK) {
    size = Math.min(MAX_CHUNK, (Math.ceil((size * 9) / 8 / 16) * 16) | 0);
    sizes.push(size);
  }
  return sizes;
}

const SIZES = classSizes();
/** Size class by size in 16-byte units, rounded up. */
const CLASS_BY_UNITS = new Uint8Array((MAX_CHUNK >>> UNIT_SHIFT) + 1);
for (let units = 0, c = 0; units < CLASS_BY_UNITS.length; units++) {
  while (SIZES[c]! < units << UNIT_SHIFT) c++;
  CLASS_BY_UNITS[units] = c;
}

class SizeClass {
  /** Freed chunks' addresses, reused last in first out. */
  free = new Uint32Array(64);
  freeCount = 0;
  /** Page being cut up, and where its next chunk starts. */
  page = -1;
  cursor = PAGE_SIZE;

  constructor(readonly chunk: number) {}
}

export class SlabStore {
  private readonly pages: Buffer[] = [];
  private readonly classes = SIZES.map((size) => new SizeClass(size));

  /** Bytes held in pages, used or free. */
  get reservedBytes(): number {
    return this.pages.length * PAGE_SIZE;
  }

  /** A chunk of at least `size` bytes (at most MAX_CHUNK). */
  alloc(size: number): number {
    const sizeClass = this.classes[CLASS_BY_UNITS[(size + 15) >>> UNIT_SHIFT]!]!;
    if (sizeClass.freeCount > 0) return sizeClass.free[--sizeClass.freeCount]!;
    if (sizeClass.cursor + sizeClass.chunk > PAGE_SIZE) {
      sizeClass.page = this.pages.length;
      this.pages.push(Buffer.allocUnsafeSlow(PAGE_SIZE));
      sizeClass.cursor = 0;
    }
    const address = sizeClass.page * (1 << OFFSET_BITS) + (sizeClass.cursor >>> UNIT_SHIFT);
    sizeClass.cursor += sizeClass.chunk;
    return address;
  }

  /** Gives back a chunk that alloc(size) returned, with the same size. */
  release(address: number, size: number): void {
    const sizeClass = this.classes[CLASS_BY_UNITS[(size + 15) >>> UNIT_SHIFT]!]!;
    if (sizeClass.freeCount === sizeClass.free.length) {
      const grown = new Uint32Array(sizeClass.free.length * 2);
      grown.set(sizeClass.free);
      sizeClass.free = grown;
    }
    sizeClass.free[sizeClass.freeCount++] = address;
  }

  /** The page holding a chunk. */
  page(address: number): Buffer {
    return this.pages[address >>> OFFSET_BITS]!;
  }

  /** Where in its page a chunk starts. */
  offset(address: number): number {
    return (address & OFFSET_MASK) << UNIT_SHIFT;
  }
}
