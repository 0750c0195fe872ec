import { Answer, AnswerKind, storedLength } from '../wire/answer.js';
import { equalsIgnoreCase } from '../wire/names.js';
import type { WireRequest } from '../wire/request.js';
import { MAX_CHUNK, SlabStore } from './slab-store.js';

/** No entry (a slot number otherwise). */
export const NO_SLOT = -1;
const HEADER_LENGTH = 12;
const NO_OPT = 0xffff;
const FIRST_SLOTS = 1024;
/** `place` of a block too big for a slab chunk: it lives in `oversized` instead. */
const OVERSIZED = 0xffffffff;

/**
 * Answers keyed by the request's 53-bit question hash (name, type, class, DO and CD bits),
 * least recently used evicted first. Expiry is judged by the caller so expired entries stay
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
  private readonly slab = new SlabStore();
  private readonly oversized = new Map<number, Buffer>();
  /** Reused for every hit: see view(). */
  private readonly hitView = new Answer(Buffer.alloc(0), 0, 0, 0, AnswerKind.POSITIVE, 0, -1, 0);

  private slots = 0;
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

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.used;
  }

  /** Bytes reserved for answers (slab pages and oversized blocks), for the metrics. */
  get answerBytes(): number {
    let bytes = this.slab.reservedBytes;
    for (const block of this.oversized.values()) bytes += block.length;
    return bytes;
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
    let slot = this.lookup(req);
    if (slot === NO_SLOT) {
      slot = this.used < this.maxEntries ? this.claim() : this.evict();
      this.keys[slot] = req.key;
      this.insert(slot);
      this.link(slot);
    } else {
      this.releaseBlock(slot);
      this.touch(slot);
    }
    const size = answer.storedLength;
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
    for (let slot = 0; slot < this.used; slot++) this.releaseBlock(slot);
    this.table.fill(0);
    this.tags.fill(null);
    this.used = 0;
    this.head = this.tail = NO_SLOT;
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

  /** A never-used slot, growing the arrays (doubling, up to the entry limit) when needed. */
  private claim(): number {
    if (this.used === this.slots) this.grow(Math.min(this.maxEntries, Math.max(FIRST_SLOTS, this.slots * 2)));
    return this.used++;
  }

  /** Frees the least recently used entry and returns its slot for reuse. */
  private evict(): number {
    const slot = this.tail;
    this.releaseBlock(slot);
    this.remove(slot);
    this.unlink(slot);
    return slot;
  }

  private releaseBlock(slot: number): void {
    const address = this.place[slot]!;
    if (address === OVERSIZED) this.oversized.delete(slot);
    else this.slab.release(address, storedLength(this.length[slot]!, this.ttlCount[slot]!));
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
    for (let slot = 0; slot < this.used; slot++) this.insert(slot);
  }
}

type TypedArray = Float64Array | Uint32Array | Int32Array | Uint16Array | Uint8Array;

function grown<T extends TypedArray>(array: T, length: number): T {
  const next = new (array.constructor as new (length: number) => T)(length);
  next.set(array as never);
  return next;
}
