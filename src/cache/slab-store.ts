/**
 * Byte storage for cached answers: 64 KiB pages cut into chunks of fixed size classes, so
 * a million answers cost a few thousand buffers instead of a million. A chunk is named by a
 * 32-bit address (page number, then its offset in 16-byte units), which fits a typed array.
 *
 * Classes grow in 16-byte steps up to 256 bytes, then by an eighth, so no chunk wastes more
 * than 12.5 % of itself. Each page belongs to one class and keeps its own free chunks (a
 * list threaded through the free chunks themselves) and a count of those in use; a page
 * whose last chunk is released is handed back at once, and pages half used by answers that
 * are gone can be emptied by moving their chunks into other pages of the class
 * (startEvacuation), so the bytes held follow the answers held rather than the most ever
 * held, whatever sizes come and go.
 */
const PAGE_SIZE = 65_536;
const UNIT_SHIFT = 4;
const OFFSET_BITS = 12;
const OFFSET_MASK = (1 << OFFSET_BITS) - 1;
const NONE = -1;
const NO_PAGE = Buffer.alloc(0);
/** The largest chunk; bigger blocks (rare, e.g. large TXT over TCP) go to a buffer of their own. */
export const MAX_CHUNK = 16_384;
export const SLAB_PAGE_SIZE = PAGE_SIZE;

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
  /** First page of the class with a chunk free (pages link through pageNext/pagePrev). */
  partial = NONE;
  pages = 0;
  /** Chunks in use over all of the class's pages. */
  live = 0;
  readonly perPage: number;

  constructor(
    readonly index: number,
    readonly chunk: number,
  ) {
    this.perPage = Math.floor(PAGE_SIZE / chunk);
  }

  /** Pages' worth of free chunks: what moving chunks together would hand back. */
  get reclaimable(): number {
    return Math.floor((this.pages * this.perPage - this.live) / this.perPage);
  }
}

export class SlabStore {
  private readonly classes = SIZES.map((size, i) => new SizeClass(i, size));
  /** By page number; NO_PAGE where a page was handed back (its number waits in freeNumbers). */
  private pages: Buffer[] = [];
  private readonly freeNumbers: number[] = [];
  private pageCount = 0;
  private pageClass = new Uint8Array(0);
  private pageLive = new Uint16Array(0);
  /** Offset of the page's first free chunk (each free chunk holds the next one's), or NONE. */
  private pageFree = new Int32Array(0);
  /** Where the page's never-used space starts. */
  private pageCursor = new Int32Array(0);
  private pageNext = new Int32Array(0);
  private pagePrev = new Int32Array(0);
  private evacuating = new Uint8Array(0);

  /** Bytes held in pages, used or free. */
  get reservedBytes(): number {
    return this.pageCount * PAGE_SIZE;
  }

  /** Whether alloc(size) would take a new page. */
  needsPage(size: number): boolean {
    return this.classOf(size).partial === NONE;
  }

  /** A chunk of at least `size` bytes (at most MAX_CHUNK). */
  alloc(size: number): number {
    const sizeClass = this.classOf(size);
    let page = sizeClass.partial;
    if (page === NONE) page = this.newPage(sizeClass);
    let offset = this.pageFree[page]!;
    if (offset !== NONE) this.pageFree[page] = this.pages[page]!.readInt32LE(offset);
    else {
      offset = this.pageCursor[page]!;
      this.pageCursor[page] = offset + sizeClass.chunk;
    }
    this.pageLive[page]!++;
    sizeClass.live++;
    if (this.isFull(page, sizeClass)) this.unlink(sizeClass, page);
    return page * (1 << OFFSET_BITS) + (offset >>> UNIT_SHIFT);
  }

  /** Gives back a chunk alloc() returned; its page goes back too when it was the last one in use. */
  release(address: number): void {
    const page = address >>> OFFSET_BITS;
    const offset = (address & OFFSET_MASK) << UNIT_SHIFT;
    const sizeClass = this.classes[this.pageClass[page]!]!;
    const wasFull = this.isFull(page, sizeClass);
    this.pages[page]!.writeInt32LE(this.pageFree[page]!, offset);
    this.pageFree[page] = offset;
    sizeClass.live--;
    if (--this.pageLive[page]! === 0) this.freePage(page, sizeClass);
    else if (wasFull && this.evacuating[page] === 0) this.link(sizeClass, page);
  }

  /** The page holding a chunk. */
  page(address: number): Buffer {
    return this.pages[address >>> OFFSET_BITS]!;
  }

  /** Where in its page a chunk starts. */
  offset(address: number): number {
    return (address & OFFSET_MASK) << UNIT_SHIFT;
  }

  /** Pages that moving chunks together would hand back, over all classes. */
  get reclaimablePages(): number {
    let pages = 0;
    for (const sizeClass of this.classes) pages += sizeClass.reclaimable;
    return pages;
  }

  /**
   * Marks, in every class, its least used pages to be emptied: as many as the free chunks of
   * its other pages can take in. The caller then moves every chunk on a marked page
   * (isEvacuating) with alloc() and release(), which never needs a new page meanwhile, and
   * calls endEvacuation(). Returns the number of pages marked.
   */
  startEvacuation(): number {
    let marked = 0;
    const byClass = new Map<SizeClass, number[]>();
    for (let page = 0; page < this.pages.length; page++) {
      if (this.pages[page] === NO_PAGE) continue;
      const sizeClass = this.classes[this.pageClass[page]!]!;
      if (sizeClass.reclaimable === 0) continue;
      const list = byClass.get(sizeClass) ?? [];
      list.push(page);
      byClass.set(sizeClass, list);
    }
    for (const [sizeClass, pages] of byClass) {
      pages.sort((a, b) => this.pageLive[a]! - this.pageLive[b]!);
      for (const page of pages.slice(0, sizeClass.reclaimable)) {
        if (!this.isFull(page, sizeClass)) this.unlink(sizeClass, page);
        this.evacuating[page] = 1;
        marked++;
      }
    }
    return marked;
  }

  isEvacuating(address: number): boolean {
    return this.evacuating[address >>> OFFSET_BITS] === 1;
  }

  /** Pages still marked (their chunks were not all moved) take chunks again. */
  endEvacuation(): void {
    for (let page = 0; page < this.pages.length; page++) {
      if (this.evacuating[page] === 0) continue;
      this.evacuating[page] = 0;
      const sizeClass = this.classes[this.pageClass[page]!]!;
      if (!this.isFull(page, sizeClass)) this.link(sizeClass, page);
    }
  }

  private classOf(size: number): SizeClass {
    return this.classes[CLASS_BY_UNITS[(size + 15) >>> UNIT_SHIFT]!]!;
  }

  private isFull(page: number, sizeClass: SizeClass): boolean {
    return this.pageFree[page] === NONE && this.pageCursor[page]! + sizeClass.chunk > PAGE_SIZE;
  }

  private newPage(sizeClass: SizeClass): number {
    let page = this.freeNumbers.pop();
    if (page === undefined) {
      page = this.pages.length;
      this.pages.push(NO_PAGE);
      if (page >= this.pageClass.length) this.growPageTables(Math.max(64, this.pageClass.length * 2));
    }
    this.pages[page] = Buffer.allocUnsafeSlow(PAGE_SIZE);
    this.pageCount++;
    sizeClass.pages++;
    this.pageClass[page] = sizeClass.index;
    this.pageLive[page] = 0;
    this.pageFree[page] = NONE;
    this.pageCursor[page] = 0;
    this.evacuating[page] = 0;
    this.link(sizeClass, page);
    return page;
  }

  private freePage(page: number, sizeClass: SizeClass): void {
    if (this.evacuating[page] === 0) this.unlink(sizeClass, page);
    this.evacuating[page] = 0;
    this.pages[page] = NO_PAGE;
    this.freeNumbers.push(page);
    this.pageCount--;
    sizeClass.pages--;
  }

  private link(sizeClass: SizeClass, page: number): void {
    this.pagePrev[page] = NONE;
    this.pageNext[page] = sizeClass.partial;
    if (sizeClass.partial !== NONE) this.pagePrev[sizeClass.partial] = page;
    sizeClass.partial = page;
  }

  private unlink(sizeClass: SizeClass, page: number): void {
    const next = this.pageNext[page]!;
    const prev = this.pagePrev[page]!;
    if (prev === NONE) sizeClass.partial = next;
    else this.pageNext[prev] = next;
    if (next !== NONE) this.pagePrev[next] = prev;
  }

  private growPageTables(length: number): void {
    const grow = <T extends Uint8Array | Uint16Array | Int32Array>(array: T): T => {
      const next = new (array.constructor as new (length: number) => T)(length);
      next.set(array as never);
      return next;
    };
    this.pageClass = grow(this.pageClass);
    this.pageLive = grow(this.pageLive);
    this.pageFree = grow(this.pageFree);
    this.pageCursor = grow(this.pageCursor);
    this.pageNext = grow(this.pageNext);
    this.pagePrev = grow(this.pagePrev);
    this.evacuating = grow(this.evacuating);
  }
}
