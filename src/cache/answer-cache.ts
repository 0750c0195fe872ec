import { Answer, AnswerKind, storedLength } from '../wire/answer.js';
import { equalsIgnoreCase } from '../wire/names.js';
import type { WireRequest } from '../wire/request.js';
import { MAX_CHUNK, SLAB_PAGE_SIZE, SlabStore } from './slab-store.js';

/** No entry (a slot number otherwise). */
export const NO_SLOT = -1;
const HEADER_LENGTH = 12;
const NO_OPT = 0xffff;
const FIRST_SLOTS = 1024;
/** `place` of a block too big for a slab chunk: it lives in `oversized` instead. */
const OVERSIZED = 0xffffffff;
/** `place` of a slot that holds no entry (on the free list). */
const FREE = 0xfffffffe;
/**
 * Chunks are moved together (a pass over every entry) once at least this share of the
 * pages could be handed back that way; below it, the least recently used entry goes.
 */
const COMPACT_SHARE = 1 / 16;

/** Entries evicted to keep within the limits; read by the metrics layer. */
export class EvictionCounters {
  forEntries = 0;
  forBytes = 0;
  /** Passes that moved chunks together to hand pages back. */
  compactions = 0;
}

/**
 * Answers keyed by the request's 53-bit question hash (name, type, class, DO and CD bits),
 * least recently used evicted first, within a number of entries and a number of bytes (slab
 * pages plus oversized answers). Expiry is judged by the caller so expired entries stay
 * available for serve-stale until evicted.
 *
 * Built for a million entries in a few hundred MB: every entry is a slot number into
 * parallel typed arrays (metadata, LRU links, an open-addressing hash table) and its
 * answer's bytes sit in a slab chunk, so the garbage collector sees a handful of objects
 * whatever the entry count. lru-cache keeps a Map entry, a boxed key and two array slots
 * per entry (about 108 bytes at a million entries, measured) and would still need the
 * answers stored apart; see the README.
 */
export class AnswerCache {
  readonly evictions = new EvictionCounters();
  private readonly slab = new SlabStore();
  private readonly oversized = new Map<number, Buffer>();
  private oversizedBytes = 0;
  /** Reused for every hit: see view(). */
  private readonly hitView = new Answer(Buffer.alloc(0), 0, 0, 0, AnswerKind.POSITIVE, 0, -1, 0);

  private slots = 0;
  /** Slots ever handed out; those freed since wait on a list through `older`. */
  private claimed = 0;
  private freeSlot = NO_SLOT;
  private used = 0;
  private head = NO_SLOT;
  private tail = NO_SLOT;
  /** Hash table of slot + 1 (0 = empty), linear probing; at most half full. */
  private table = new Int32Array(0);
  private mask = 0;
  private shift = 32;

  private keys = new Float64Array(0);
  private place = new Uint32Array(0);
  private length = new Uint16Array(0);
  private ttlCount = new Uint16Array(0);
  private optOffset = new Uint16Array(0);
  private rcode = new Uint16Array(0);
  private kind = new Uint8Array(0);
  private refreshing = new Uint8Array(0);
  private hitCount = new Uint32Array(0);
  private stored = new Float64Array(0);
  private lifetime = new Uint32Array(0);
  private staleFor = new Uint32Array(0);
  private newer = new Int32Array(0);
  private older = new Int32Array(0);
  private tags: Array<object | null> = [];

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes = Number.POSITIVE_INFINITY,
  ) {}

  get size(): number {
    return this.used;
  }

  /** Bytes reserved for answers (slab pages and oversized blocks): what maxBytes bounds. */
  get answerBytes(): number {
    return this.slab.reservedBytes + this.oversizedBytes;
  }

  /** The entry answering `req`'s question, made the most recently used; or NO_SLOT. */
  find(req: WireRequest): number {
    const slot = this.lookup(req);
    if (slot !== NO_SLOT) this.touch(slot);
    return slot;
  }

  storedAt(slot: number): number {
    return this.stored[slot]!;
  }

  expiresAt(slot: number): number {
    return this.stored[slot]! + this.lifetime[slot]!;
  }

  /** Past this it is not even served stale (RFC 8767 §5, max stale). */
  staleUntil(slot: number): number {
    return this.stored[slot]! + this.lifetime[slot]! + this.staleFor[slot]!;
  }

  lifetimeMs(slot: number): number {
    return this.lifetime[slot]!;
  }

  /** Counts a hit; returns the entry's hits so far. */
  hit(slot: number): number {
    return ++this.hitCount[slot]!;
  }

  isRefreshing(slot: number): boolean {
    return this.refreshing[slot] === 1;
  }

  setRefreshing(slot: number, refreshing: boolean): void {
    this.refreshing[slot] = refreshing ? 1 : 0;
  }

  /**
   * The entry's answer through a view shared by every hit: it stays valid until the next
   * call on this cache, which is enough to judge and send it synchronously and costs no
   * allocation. Anything that holds an answer across an await must take copy() instead.
   */
  view(slot: number): Answer {
    const view = this.hitView;
    this.locate(view, slot);
    view.length = this.length[slot]!;
    view.ttlCount = this.ttlCount[slot]!;
    view.kind = this.kind[slot]! as AnswerKind;
    view.rcode = this.rcode[slot]!;
    const opt = this.optOffset[slot]!;
    view.optOffset = opt === NO_OPT ? -1 : opt;
    view.tags = this.tags[slot]!;
    return view;
  }

  /** The entry's answer as an Answer of its own, for holding across an await. */
  copy(slot: number): Answer {
    const view = this.view(slot);
    const bytes = Buffer.allocUnsafe(view.storedLength);
    view.bytes.copy(bytes, 0, view.start, view.start + bytes.length);
    const answer = new Answer(bytes, 0, view.length, view.ttlCount, view.kind, view.rcode, view.optOffset, 0);
    answer.tags = view.tags;
    return answer;
  }

  set(req: WireRequest, answer: Answer, now: number, ttlSeconds: number, staleSeconds: number): void {
    if (this.maxEntries === 0 || answer.length === 0) return;
    const size = answer.storedLength;
    const existing = this.lookup(req);
    if (existing !== NO_SLOT) this.drop(existing);
    if (!this.makeRoom(size)) return;
    const slot = this.used < this.maxEntries ? this.claim() : this.evict();
    this.keys[slot] = req.key;
    this.insert(slot);
    this.link(slot);
    let target: Buffer;
    let at: number;
    if (size <= MAX_CHUNK) {
      const address = this.slab.alloc(size);
      this.place[slot] = address;
      target = this.slab.page(address);
      at = this.slab.offset(address);
    } else {
      target = Buffer.allocUnsafe(size);
      at = 0;
      this.place[slot] = OVERSIZED;
      this.oversized.set(slot, target);
      this.oversizedBytes += size;
    }
    answer.bytes.copy(target, at, answer.start, answer.start + size);
    this.length[slot] = answer.length;
    this.ttlCount[slot] = answer.ttlCount;
    this.optOffset[slot] = answer.optOffset < 0 ? NO_OPT : answer.optOffset;
    this.rcode[slot] = answer.rcode;
    this.kind[slot] = answer.kind;
    this.refreshing[slot] = 0;
    this.hitCount[slot] = 0;
    this.stored[slot] = now;
    this.lifetime[slot] = ttlSeconds * 1000;
    this.staleFor[slot] = staleSeconds * 1000;
    this.tags[slot] = answer.tags;
  }

  clear(): void {
    for (let slot = 0; slot < this.claimed; slot++) if (this.place[slot] !== FREE) this.releaseBlock(slot);
    this.table.fill(0);
    this.tags.fill(null);
    this.used = 0;
    this.claimed = 0;
    this.freeSlot = NO_SLOT;
    this.head = this.tail = NO_SLOT;
  }

  /**
   * Frees bytes until a block of `size` fits within maxBytes: by handing back pages whose
   * chunks can move into others of their class when enough can, else by evicting the least
   * recently used entry. False when even an empty cache could not hold it.
   */
  private makeRoom(size: number): boolean {
    const limit = this.maxBytes;
    if (size > MAX_CHUNK) {
      if (size > limit) return false;
      while (this.answerBytes + size > limit) this.reclaim();
      return true;
    }
    if (SLAB_PAGE_SIZE > limit) return false;
    while (this.slab.needsPage(size) && this.answerBytes + SLAB_PAGE_SIZE > limit) this.reclaim();
    return true;
  }

  /** Frees some bytes; only called while the cache holds something (an empty one holds no bytes). */
  private reclaim(): void {
    const pages = this.slab.reservedBytes / SLAB_PAGE_SIZE;
    if (this.slab.reclaimablePages >= Math.max(1, Math.floor(pages * COMPACT_SHARE)) && this.compact()) return;
    this.evictions.forBytes++;
    this.drop(this.tail);
  }

  /** Moves the chunks of the pages the slab marks into other pages, which hands those pages back; true when it did. */
  private compact(): boolean {
    const slab = this.slab;
    const before = slab.reservedBytes;
    if (slab.startEvacuation() === 0) return false;
    this.evictions.compactions++;
    for (let slot = 0; slot < this.claimed; slot++) {
      const from = this.place[slot]!;
      if (from === FREE || from === OVERSIZED || !slab.isEvacuating(from)) continue;
      const size = storedLength(this.length[slot]!, this.ttlCount[slot]!);
      const to = slab.alloc(size);
      slab.page(from).copy(slab.page(to), slab.offset(to), slab.offset(from), slab.offset(from) + size);
      this.place[slot] = to;
      slab.release(from);
    }
    slab.endEvacuation();
    return slab.reservedBytes < before;
  }

  private locate(view: Answer, slot: number): void {
    const address = this.place[slot]!;
    if (address === OVERSIZED) {
      view.bytes = this.oversized.get(slot)!;
      view.start = 0;
    } else {
      view.bytes = this.slab.page(address);
      view.start = this.slab.offset(address);
    }
  }

  private lookup(req: WireRequest): number {
    if (this.used === 0) return NO_SLOT;
    const key = req.key;
    const questionLength = req.questionLength;
    for (let i = this.home(key); ; i = (i + 1) & this.mask) {
      const slot = this.table[i]! - 1;
      if (slot === NO_SLOT) return NO_SLOT;
      if (this.keys[slot] !== key) continue;
      // Hash keys can collide, question bytes cannot (the stored message keeps the upstream's
      // spelling of the name, so the comparison ignores case).
      if (this.length[slot]! < HEADER_LENGTH + questionLength) continue;
      this.locate(this.hitView, slot);
      if (equalsIgnoreCase(this.hitView.bytes, this.hitView.start + HEADER_LENGTH, req.question, 0, questionLength)) return slot;
    }
  }

  /** A free slot: one given back, else a never-used one, growing the arrays (doubling, up to the entry limit). */
  private claim(): number {
    this.used++;
    const free = this.freeSlot;
    if (free !== NO_SLOT) {
      this.freeSlot = this.older[free]!;
      return free;
    }
    if (this.claimed === this.slots) this.grow(Math.min(this.maxEntries, Math.max(FIRST_SLOTS, this.slots * 2)));
    return this.claimed++;
  }

  /** Frees the least recently used entry and returns its slot for reuse. */
  private evict(): number {
    this.evictions.forEntries++;
    const slot = this.tail;
    this.releaseBlock(slot);
    this.remove(slot);
    this.unlink(slot);
    return slot;
  }

  /** Removes an entry and puts its slot on the free list. */
  private drop(slot: number): void {
    this.releaseBlock(slot);
    this.remove(slot);
    this.unlink(slot);
    this.place[slot] = FREE;
    this.tags[slot] = null;
    this.older[slot] = this.freeSlot;
    this.freeSlot = slot;
    this.used--;
  }

  private releaseBlock(slot: number): void {
    const address = this.place[slot]!;
    if (address === OVERSIZED) {
      this.oversizedBytes -= this.oversized.get(slot)!.length;
      this.oversized.delete(slot);
    } else this.slab.release(address);
  }

  /** A key's first bucket: its low 32 bits spread by Fibonacci hashing, top bits taken. */
  private home(key: number): number {
    return Math.imul(key >>> 0, 0x9e3779b1) >>> this.shift;
  }

  private insert(slot: number): void {
    let i = this.home(this.keys[slot]!);
    while (this.table[i] !== 0) i = (i + 1) & this.mask;
    this.table[i] = slot + 1;
  }

  /** Deletes a slot from the hash table, shifting later members of its run back (no tombstones). */
  private remove(slot: number): void {
    const table = this.table;
    const mask = this.mask;
    let hole = this.home(this.keys[slot]!);
    while (table[hole] !== slot + 1) hole = (hole + 1) & mask;
    for (let i = (hole + 1) & mask; table[i] !== 0; i = (i + 1) & mask) {
      const home = this.home(this.keys[table[i]! - 1]!);
      // Move the member into the hole unless its home lies cyclically in (hole, i].
      if (((i - home) & mask) >= ((i - hole) & mask)) {
        table[hole] = table[i]!;
        hole = i;
      }
    }
    table[hole] = 0;
  }

  private link(slot: number): void {
    this.older[slot] = this.head;
    this.newer[slot] = NO_SLOT;
    if (this.head !== NO_SLOT) this.newer[this.head] = slot;
    this.head = slot;
    if (this.tail === NO_SLOT) this.tail = slot;
  }

  private unlink(slot: number): void {
    const newer = this.newer[slot]!;
    const older = this.older[slot]!;
    if (newer === NO_SLOT) this.head = older;
    else this.older[newer] = older;
    if (older === NO_SLOT) this.tail = newer;
    else this.newer[older] = newer;
  }

  private touch(slot: number): void {
    if (slot === this.head) return;
    this.unlink(slot);
    this.link(slot);
  }

  private grow(slots: number): void {
    this.keys = grown(this.keys, slots);
    this.place = grown(this.place, slots);
    this.length = grown(this.length, slots);
    this.ttlCount = grown(this.ttlCount, slots);
    this.optOffset = grown(this.optOffset, slots);
    this.rcode = grown(this.rcode, slots);
    this.kind = grown(this.kind, slots);
    this.refreshing = grown(this.refreshing, slots);
    this.hitCount = grown(this.hitCount, slots);
    this.stored = grown(this.stored, slots);
    this.lifetime = grown(this.lifetime, slots);
    this.staleFor = grown(this.staleFor, slots);
    this.newer = grown(this.newer, slots);
    this.older = grown(this.older, slots);
    this.slots = slots;
    let bits = 1;
    while (1 << bits < slots * 2) bits++;
    this.table = new Int32Array(1 << bits);
    this.mask = (1 << bits) - 1;
    this.shift = 32 - bits;
    for (let slot = 0; slot < this.claimed; slot++) if (this.place[slot] !== FREE) this.insert(slot);
  }
}

type TypedArray = Float64Array | Uint32Array | Int32Array | Uint16Array | Uint8Array;

function grown<T extends TypedArray>(array: T, length: number): T {
  const next = new (array.constructor as new (length: number) => T)(length);
  next.set(array as never);
  return next;
}
