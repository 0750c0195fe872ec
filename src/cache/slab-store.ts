/**
 * Byte storage for cached answers: 64 KiB pages cut into chunks of fixed size classes, so
 * a million answers cost a few thousand pages instead of a million buffers. A chunk is named
 * by a 32-bit address (page number, then its offset in 8-byte units), which fits a typed
 * array. Pages and their tables sit in a CacheMemory, so every process mapping it sees the
 * same chunks; callers hold the cache's lock.
 *
 * Classes grow in 8-byte steps up to 256 bytes (a typical answer is under 200 bytes: a step
 * of 16 left it 8 bytes of padding on average, 5 % of a cached answer with its metadata),
 * then by an eighth, so no chunk wastes more than 12.5 % of itself (above 21 KiB a page holds fewer than three chunks, and its rest
 * stays unused). Each page belongs to one class and keeps its own free chunks (a list
 * threaded through the free chunks themselves) and a count of those in use; a page whose
 * last chunk is released goes back to the free pages at once, and pages half used by
 * answers that are gone can be emptied by moving their chunks into other pages of the class
 * (startEvacuation), so the pages held follow the answers held rather than the most ever
 * held, whatever sizes come and go.
 */
import { CLASS_SLOTS, Header, PAGE_SIZE, type CacheMemory } from './cache-memory.js';

const UNIT_SHIFT = 3;
const OFFSET_BITS = 13;
const OFFSET_MASK = (1 << OFFSET_BITS) - 1;
const NONE = -1;
/** The largest chunk, a whole page; a block bigger than that is not stored. */
export const MAX_CHUNK = PAGE_SIZE;

function classSizes(): number[] {
  const sizes: number[] = [];
  for (let size = 8; size <= 256; size += 8) sizes.push(size);
  let size = 256;
  while (size < MAX_CHUNK) {
    size = Math.min(MAX_CHUNK, (Math.ceil((size * 9) / 8 / 16) * 16) | 0);
    sizes.push(size);
  }
  return sizes;
}

const SIZES = classSizes();
if (SIZES.length > CLASS_SLOTS) throw new Error('more size classes than the cache layout has room for');
const PER_PAGE = SIZES.map((size) => Math.floor(PAGE_SIZE / size));
/** Size class by size in 8-byte units, rounded up. */
const CLASS_BY_UNITS = new Uint8Array((MAX_CHUNK >>> UNIT_SHIFT) + 1);
for (let units = 0, c = 0; units < CLASS_BY_UNITS.length; units++) {
  while (SIZES[c]! < units << UNIT_SHIFT) c++;
  CLASS_BY_UNITS[units] = c;
}

export class SlabStore {
  private readonly header: Int32Array;
  /** First page of each class with a chunk free (pages link through pageNext/pagePrev). */
  private readonly partial: Int32Array;
  private readonly classPages: Int32Array;
  /** Chunks in use over all of a class's pages. */
  private readonly classLive: Int32Array;
  private readonly pageClass: Uint8Array;
  private readonly pageLive: Uint16Array;
  /** Offset of the page's first free chunk (each free chunk holds the next one's), or NONE. */
  private readonly pageFree: Int32Array;
  /** Where the page's never-used space starts. */
  private readonly pageCursor: Int32Array;
  private readonly pageNext: Int32Array;
  private readonly pagePrev: Int32Array;
  private readonly evacuating: Uint8Array;
  /** Page numbers handed back, waiting to be used again. */
  private readonly freeNumbers: Int32Array;

  constructor(private readonly memory: CacheMemory) {
    this.header = memory.header;
    this.partial = memory.classPartial;
    this.classPages = memory.classPages;
    this.classLive = memory.classLive;
    this.pageClass = memory.pageClass;
    this.pageLive = memory.pageLive;
    this.pageFree = memory.pageFree;
    this.pageCursor = memory.pageCursor;
    this.pageNext = memory.pageNext;
    this.pagePrev = memory.pagePrev;
    this.evacuating = memory.evacuating;
    this.freeNumbers = memory.freeNumbers;
  }

  /** Sets up the empty store (every page free). */
  reset(): void {
    this.partial.fill(NONE);
    this.classPages.fill(0);
    this.classLive.fill(0);
    this.evacuating.fill(0);
    this.header[Header.PAGES_IN_USE] = 0;
    this.header[Header.PAGES_EVER] = 0;
    this.header[Header.FREE_NUMBERS] = 0;
  }

  /** Bytes held in pages, used or free. */
  get reservedBytes(): number {
    return this.header[Header.PAGES_IN_USE]! * PAGE_SIZE;
  }

  /** Whether alloc(size) would take a new page. */
  needsPage(size: number): boolean {
    return this.partial[classOf(size)] === NONE;
  }

  /** Whether a new page is left to take. */
  get hasFreePage(): boolean {
    return this.header[Header.PAGES_IN_USE]! < this.memory.layout.pages;
  }

  /** A chunk of at least `size` bytes (at most MAX_CHUNK); a page must be free when needsPage(size). */
  alloc(size: number): number {
    const sizeClass = classOf(size);
    let page = this.partial[sizeClass]!;
    if (page === NONE) page = this.newPage(sizeClass);
    let offset = this.pageFree[page]!;
    if (offset !== NONE) this.pageFree[page] = this.memory.segmentOf(page).readInt32LE(this.memory.pageStart(page) + offset);
    else {
      offset = this.pageCursor[page]!;
      this.pageCursor[page] = offset + SIZES[sizeClass]!;
    }
    this.pageLive[page]!++;
    this.classLive[sizeClass]!++;
    if (this.isFull(page, sizeClass)) this.unlink(sizeClass, page);
    return page * (1 << OFFSET_BITS) + (offset >>> UNIT_SHIFT);
  }

  /** Gives back a chunk alloc() returned; its page goes back too when it was the last one in use. */
  release(address: number): void {
    const page = address >>> OFFSET_BITS;
    const offset = (address & OFFSET_MASK) << UNIT_SHIFT;
    const sizeClass = this.pageClass[page]!;
    const wasFull = this.isFull(page, sizeClass);
    this.memory.segmentOf(page).writeInt32LE(this.pageFree[page]!, this.memory.pageStart(page) + offset);
    this.pageFree[page] = offset;
    this.classLive[sizeClass]!--;
    if (--this.pageLive[page]! === 0) this.freePage(page, sizeClass);
    else if (wasFull && this.evacuating[page] === 0) this.link(sizeClass, page);
  }

  /** The segment holding a chunk. */
  segment(address: number): Buffer {
    return this.memory.segmentOf(address >>> OFFSET_BITS);
  }

  /** Which of the memory's segments holds a chunk. */
  segmentIndex(address: number): number {
    return this.memory.segmentIndex(address >>> OFFSET_BITS);
  }

  /** Where in its segment a chunk starts. */
  offset(address: number): number {
    return this.memory.pageStart(address >>> OFFSET_BITS) + ((address & OFFSET_MASK) << UNIT_SHIFT);
  }

  /** Pages that moving chunks together would hand back, over all classes. */
  get reclaimablePages(): number {
    let pages = 0;
    for (let c = 0; c < SIZES.length; c++) pages += this.reclaimable(c);
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
    const byClass = new Map<number, number[]>();
    for (let page = 0; page < this.header[Header.PAGES_EVER]!; page++) {
      if (this.pageLive[page] === 0) continue;
      const sizeClass = this.pageClass[page]!;
      if (this.reclaimable(sizeClass) === 0) continue;
      const list = byClass.get(sizeClass) ?? [];
      list.push(page);
      byClass.set(sizeClass, list);
    }
    for (const [sizeClass, pages] of byClass) {
      pages.sort((a, b) => this.pageLive[a]! - this.pageLive[b]!);
      for (const page of pages.slice(0, this.reclaimable(sizeClass))) {
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
    for (let page = 0; page < this.header[Header.PAGES_EVER]!; page++) {
      if (this.evacuating[page] === 0) continue;
      this.evacuating[page] = 0;
      const sizeClass = this.pageClass[page]!;
      if (!this.isFull(page, sizeClass)) this.link(sizeClass, page);
    }
  }

  /** Pages' worth of free chunks in a class: what moving chunks together would hand back. */
  private reclaimable(sizeClass: number): number {
    const perPage = PER_PAGE[sizeClass]!;
    return Math.floor((this.classPages[sizeClass]! * perPage - this.classLive[sizeClass]!) / perPage);
  }

  private isFull(page: number, sizeClass: number): boolean {
    return this.pageFree[page] === NONE && this.pageCursor[page]! + SIZES[sizeClass]! > PAGE_SIZE;
  }

  private newPage(sizeClass: number): number {
    const header = this.header;
    const page = header[Header.FREE_NUMBERS]! > 0 ? this.freeNumbers[--header[Header.FREE_NUMBERS]!]! : header[Header.PAGES_EVER]!++;
    header[Header.PAGES_IN_USE]!++;
    this.classPages[sizeClass]!++;
    this.pageClass[page] = sizeClass;
    this.pageLive[page] = 0;
    this.pageFree[page] = NONE;
    this.pageCursor[page] = 0;
    this.evacuating[page] = 0;
    this.link(sizeClass, page);
    return page;
  }

  private freePage(page: number, sizeClass: number): void {
    if (this.evacuating[page] === 0) this.unlink(sizeClass, page);
    this.evacuating[page] = 0;
    this.freeNumbers[this.header[Header.FREE_NUMBERS]!++] = page;
    this.header[Header.PAGES_IN_USE]!--;
    this.classPages[sizeClass]!--;
  }

  private link(sizeClass: number, page: number): void {
    this.pagePrev[page] = NONE;
    this.pageNext[page] = this.partial[sizeClass]!;
    if (this.partial[sizeClass] !== NONE) this.pagePrev[this.partial[sizeClass]!] = page;
    this.partial[sizeClass] = page;
  }

  private unlink(sizeClass: number, page: number): void {
    const next = this.pageNext[page]!;
    const prev = this.pagePrev[page]!;
    if (prev === NONE) this.partial[sizeClass] = next;
    else this.pageNext[prev] = next;
    if (next !== NONE) this.pagePrev[next] = prev;
  }
}

function classOf(size: number): number {
  return CLASS_BY_UNITS[(size + 7) >>> UNIT_SHIFT]!;
}
