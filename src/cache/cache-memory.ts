/**
 * Where the answer cache keeps everything: one block of metadata (a header, the entries'
 * parallel arrays, the hash table, the slab's page tables) and the answer pages, cut into
 * segments of at most 1 GiB. The same layout lives in this process's own memory (one
 * resolver) or in memory every worker maps (server/shared-cache.ts), so one cache serves
 * them all; the cache itself cannot tell. Both are sized for the limits at start and cost
 * memory only as pages are written.
 */

/** Words of the header, an Int32Array at the start of the metadata. */
export const Header = {
  /**
   * 0 when free, else the id (pid) of the process holding the cache's lock. Alone in its
   * 64-byte cache line, so a waiter reading it does not take the line the holder is
   * changing the counters in.
   */
  LOCK: 0,
  /** READY_MARK once the first process has set the empty state up. */
  READY: 16,
  USED: 17,
  /** Slots ever handed out; those freed since wait on a list. */
  CLAIMED: 18,
  FREE_SLOT: 19,
  /** The slot the eviction hand (CLOCK) looks at next. */
  HAND: 20,
  /** Fetch boards handed out, so each has an id of its own (see FetchBoard). */
  FETCHERS: 21,
  /** Counts stores, so each store has a number of its own (see AnswerCache's tags). */
  GENERATION: 22,
  PAGES_IN_USE: 23,
  /** Page numbers handed out so far; those freed since wait on a stack. */
  PAGES_EVER: 24,
  FREE_NUMBERS: 25,
  ENTRIES: 26,
  PAGES: 27,
  /** Times the cache was emptied because a process died holding its lock. */
  RESETS: 28,
  /**
   * Odd while a store changes what lookups read, even otherwise; every change adds one. A
   * lookup reads without the lock and keeps what it read only if this stayed the same even
   * number throughout (a sequence lock).
   */
  CHANGES: 29,
  /**
   * Words 30 and 31, a float64: the time (ms) from which entries' store times count, in
   * ticks of 1/16 s; set by the first store after the cache was emptied.
   */
  EPOCH: 30,
} as const;
const HEADER_WORDS = 32;
export const READY_MARK = 0x57504331;
/** Room for the slab's size classes (it has fewer). */
export const CLASS_SLOTS = 96;
export const PAGE_SIZE = 65_536;
/** Slots of the fetch board (see FetchBoard): far more than the questions a node fetches at once. */
const BOARD_SLOTS = 4096;
/** A slot: the question's key (low 32 bits), its fetcher's id (0: free), when the claim lapses (s since 1970). */
export const BOARD_WORDS = 3;
const SEGMENT_PAGES = 16_384;

/** What fixes the layout: both must agree in every process mapping one cache. */
export interface CacheLayout {
  readonly entries: number;
  readonly pages: number;
}

export function cacheLayout(maxEntries: number, maxBytes: number): CacheLayout {
  return { entries: maxEntries, pages: Math.floor(maxBytes / PAGE_SIZE) };
}

function tableBits(entries: number): number {
  let bits = 1;
  while (2 ** bits < entries * 2) bits++;
  return bits;
}

/** Byte lengths of the metadata and of each answer segment, in mapping order. */
export function partLengths(layout: CacheLayout): number[] {
  const lengths = [metaBytes(layout)];
  for (let pages = layout.pages; pages > 0; pages -= SEGMENT_PAGES) lengths.push(Math.min(pages, SEGMENT_PAGES) * PAGE_SIZE);
  return lengths;
}

/** What CacheMemory's constructor takes of the metadata, array by array. */
function metaBytes({ entries, pages }: CacheLayout): number {
  return HEADER_WORDS * 4 + BOARD_SLOTS * BOARD_WORDS * 4 + entries * (4 * 5 + 2 * 4 + 3) + 4 * 2 ** tableBits(entries) + CLASS_SLOTS * 4 * 3 + pages * (4 * 5 + 2 + 2);
}

/** Hands out consecutive arrays of the metadata; widest elements first, so each is aligned. */
class MetaCursor {
  private at = HEADER_WORDS * 4;
  private readonly buffer: ArrayBuffer;

  constructor(buffer: ArrayBuffer) {
    this.buffer = buffer;
  }

  take<T>(make: new (buffer: ArrayBuffer, offset: number, length: number) => T, width: number, length: number): T {
    const view = new make(this.buffer, this.at, length);
    this.at += width * length;
    return view;
  }
}

/** Typed views of one cache's memory. */
export class CacheMemory {
  readonly header: Int32Array;
  readonly epoch: Float64Array;
  /** The questions being fetched: BOARD_SLOTS slots of BOARD_WORDS words (see FetchBoard). */
  readonly board: Int32Array;
  /** The low 32 bits of each entry's question key: the question bytes and the flags decide. */
  readonly keys: Uint32Array;
  /** When the entry was stored: ticks of 1/16 s since the header's EPOCH, rounded down. */
  readonly stored: Uint32Array;
  /** Where the answer's chunk is; for a free slot, the next free slot + 1 (0: none). */
  readonly place: Uint32Array;
  readonly lifetime: Uint32Array;
  /** Fresh hits, stopping at 65,535 (prefetch.min_hits is at most that). */
  readonly hitCount: Uint16Array;
  readonly generation: Uint32Array;
  /** Hash table of slot + 1 (0 = empty), linear probing; at most half full. */
  readonly table: Int32Array;
  readonly tableShift: number;
  readonly classPartial: Int32Array;
  readonly classPages: Int32Array;
  readonly classLive: Int32Array;
  readonly pageFree: Int32Array;
  readonly pageCursor: Int32Array;
  readonly pageNext: Int32Array;
  readonly pagePrev: Int32Array;
  readonly freeNumbers: Int32Array;
  readonly length: Uint16Array;
  readonly ttlCount: Uint16Array;
  /** Offset of the OPT record, or one of the marks for an OPT record not stored (see AnswerCache). */
  readonly optOffset: Uint16Array;
  readonly pageLive: Uint16Array;
  /** The question's DO and CD bits (which its key holds too) and the refreshing mark; see AnswerCache. */
  readonly flags: Uint8Array;
  /** 1 once a hit found the entry after the eviction hand last passed it (CLOCK). */
  readonly referenced: Uint8Array;
  /** 1 + the entry's tags' place among the tags every process holds alike; 0 for others (see AnswerCache). */
  readonly tagCode: Uint8Array;
  readonly pageClass: Uint8Array;
  readonly evacuating: Uint8Array;
  /** Answer pages, SEGMENT_PAGES to a segment. */
  readonly segments: Buffer[];

  /**
   * `parts` as partLengths() describes them. `shared` says other processes map the same
   * memory; `pause` lets them run while this one waits for the lock.
   */
  constructor(
    readonly layout: CacheLayout,
    parts: readonly ArrayBuffer[],
    readonly shared: boolean,
    readonly pause: () => void,
  ) {
    const { entries, pages } = layout;
    const meta = new MetaCursor(parts[0]!);
    this.header = new Int32Array(parts[0]!, 0, HEADER_WORDS);
    this.epoch = new Float64Array(parts[0]!, Header.EPOCH * 4, 1);
    this.board = meta.take(Int32Array, 4, BOARD_SLOTS * BOARD_WORDS);
    this.keys = meta.take(Uint32Array, 4, entries);
    this.stored = meta.take(Uint32Array, 4, entries);
    this.place = meta.take(Uint32Array, 4, entries);
    this.lifetime = meta.take(Uint32Array, 4, entries);
    this.generation = meta.take(Uint32Array, 4, entries);
    const bits = tableBits(entries);
    this.table = meta.take(Int32Array, 4, 2 ** bits);
    this.tableShift = 32 - bits;
    this.classPartial = meta.take(Int32Array, 4, CLASS_SLOTS);
    this.classPages = meta.take(Int32Array, 4, CLASS_SLOTS);
    this.classLive = meta.take(Int32Array, 4, CLASS_SLOTS);
    this.pageFree = meta.take(Int32Array, 4, pages);
    this.pageCursor = meta.take(Int32Array, 4, pages);
    this.pageNext = meta.take(Int32Array, 4, pages);
    this.pagePrev = meta.take(Int32Array, 4, pages);
    this.freeNumbers = meta.take(Int32Array, 4, pages);
    this.hitCount = meta.take(Uint16Array, 2, entries);
    this.length = meta.take(Uint16Array, 2, entries);
    this.ttlCount = meta.take(Uint16Array, 2, entries);
    this.optOffset = meta.take(Uint16Array, 2, entries);
    this.pageLive = meta.take(Uint16Array, 2, pages);
    this.flags = meta.take(Uint8Array, 1, entries);
    this.referenced = meta.take(Uint8Array, 1, entries);
    this.tagCode = meta.take(Uint8Array, 1, entries);
    this.pageClass = meta.take(Uint8Array, 1, pages);
    this.evacuating = meta.take(Uint8Array, 1, pages);
    this.segments = parts.slice(1).map((part) => Buffer.from(part));
  }

  /** The segment holding page `page`. */
  segmentOf(page: number): Buffer {
    return this.segments[this.segmentIndex(page)]!;
  }

  segmentIndex(page: number): number {
    return (page / SEGMENT_PAGES) | 0;
  }

  /** Where page `page` starts in its segment. */
  pageStart(page: number): number {
    return (page % SEGMENT_PAGES) * PAGE_SIZE;
  }
}

/** A cache's memory in this process alone (zero-filled, so untouched pages cost nothing). */
export function localMemory(layout: CacheLayout): CacheMemory {
  return new CacheMemory(layout, partLengths(layout).map((length) => new ArrayBuffer(length)), false, () => {});
}
