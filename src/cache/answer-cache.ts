import { Answer, AnswerKind, storedLength, writeOptHeader } from '../wire/answer.js';
import { Flag } from '../wire/constants.js';
import { equalsIgnoreCase } from '../wire/names.js';
import type { WireRequest } from '../wire/request.js';
import { CacheLock } from './cache-lock.js';
import { Header, PAGE_SIZE, READY_MARK, type CacheMemory } from './cache-memory.js';
import { MAX_CHUNK, SlabStore } from './slab-store.js';

const NO_SLOT = -1;
const HEADER_LENGTH = 12;
/**
 * optOffset for an answer without an OPT record, and for one whose OPT record is plain (no
 * options, extended rcode and version 0, the UDP size of the cache's settings), without and
 * with the DO bit: such a record, 11 bytes, is not stored but written back on each lookup.
 */
const NO_OPT = 0xffff;
const PLAIN_OPT = 0xfffe;
const PLAIN_OPT_DO = 0xfffd;
const OPT_LENGTH = 11;
/** flags: the refreshing mark; above it the question's DO and CD bits (see questionFlags). */
const REFRESHING = 1;
const QUESTION_FLAGS = 6;
/** Store times count in sixteenths of a second (8.5 years in 32 bits), rounded down: a TTL is served at most that much early. */
const TICK_MS = 62.5;
const MAX_TICKS = 0xffffffff;
/** The epoch lies this far before the first store, for stores that read the clock a little earlier. */
const EPOCH_SLACK_MS = 60_000;
/**
 * Chunks are moved together (a pass over every entry) once at least this share of the
 * pages could be handed back that way; below it, the entry the CLOCK hand picks goes.
 */
const COMPACT_SHARE = 1 / 16;
/** Lock-free tries of a lookup before it waits for the lock (a store kept changing the cache under it). */
const READ_TRIES = 3;

/** What this process's stores evicted to keep within the limits; read by the metrics layer. */
export class EvictionCounters {
  forEntries = 0;
  forBytes = 0;
  /** Passes that moved chunks together to hand pages back. */
  compactions = 0;
  /** Times this process emptied the cache because another died holding its lock. */
  resets = 0;
}

export interface AnswerCacheOptions {
  /** How long past expiry entries stay usable for serve-stale (0: not at all). */
  readonly staleSeconds?: number;
  /** Tag objects every process sharing the memory holds alike, in the same order (at most 255). */
  readonly constantTags?: readonly object[];
  /** The UDP size upstream answers' OPT records advertise (dns.udp_size); 0: every OPT record is stored. */
  readonly udpSize?: number;
}

/** The DO and CD bits of a question, in flags' place: part of its key, which the cache keeps only 32 bits of. */
function questionFlags(req: WireRequest): number {
  return (req.dnssecOk ? 4 : 0) | ((req.flags & Flag.CD) !== 0 ? 2 : 0);
}

/** Tags one process keeps for an entry, valid while the slot holds the store of that generation. */
class LocalTags {
  constructor(
    readonly generation: number,
    readonly tags: object,
  ) {}
}

/** The entry the last find() found: a copy no store changed while it was taken, valid until the next find(). */
export class FoundEntry {
  /** The answer, in this process's own bytes; tags null when this process has none for it yet. */
  readonly answer = new Answer(Buffer.allocUnsafeSlow(MAX_CHUNK), 0, 0, 0, AnswerKind.POSITIVE, 0, -1, 0);
  storedAt = 0;
  lifetimeMs = 0;
  /** How long past expiry an entry may be served stale: one setting for every entry. */
  staleForMs = 0;
  /** Fresh lookups so far, this one included. */
  hits = 0;
  refreshing = false;

  get expiresAt(): number {
    return this.storedAt + this.lifetimeMs;
  }

  /** Past this it is not even served stale (RFC 8767 §5, max stale). */
  get staleUntil(): number {
    return this.storedAt + this.lifetimeMs + this.staleForMs;
  }
}

/**
 * Answers keyed by the request's question hash (name, type, class, DO and CD bits), within a
 * number of entries and a number of bytes of slab pages, evicted by CLOCK: a hit marks its
 * entry, and the eviction hand, going round the slots, takes the first entry without a mark
 * and clears the marks it passes. That keeps what is asked for again as LRU would, with no
 * list to keep in order: a hit is one plain store, without the lock, in any worker. Expiry
 * is judged by the caller, so expired entries stay available for serve-stale until evicted.
 *
 * Everything lives in a CacheMemory: every entry is a slot number into parallel typed arrays
 * (metadata, an open-addressing hash table) and its answer's bytes sit in a slab chunk, so
 * the garbage collector sees a handful of objects whatever the entry count, and workers that
 * map one memory share one cache. A store holds the memory's lock and marks the change in a
 * sequence word; a lookup takes no lock: it reads, copies the answer out and keeps the copy
 * only if no store ran meanwhile (else it tries again, and in the end waits for the lock),
 * so workers answering hits never wait for each other. An entry keeps 31 bytes besides its
 * chunk: the key's low 32 bits (the question bytes and the DO and CD bits decide, compared
 * in full), the store time in sixteenths of a second, and the rcode and kind are read from
 * the message; nearly every upstream answer's OPT record is the same 11 bytes but for the
 * DO bit, so it is written back on each lookup rather than stored. Tags are JavaScript
 * objects, which cannot be shared.
 * Most answers carry one of a few tag objects every process holds alike (`constantTags`, of
 * answers of no app): the entry keeps that one's number in the memory, so every process
 * finds it. Others (an app's answers) each process keeps for itself, by slot with the
 * store's generation number, so such an entry another process stored comes back untagged
 * once. A per-slot array would cost every worker 15 bytes an entry (14.5 MiB at a million),
 * where the number costs 1 byte once.
 * lru-cache keeps a Map entry, a boxed key and two array slots per entry (about 108 bytes at
 * a million entries, measured) and could be neither bounded by bytes nor shared; see the
 * README.
 */
export class AnswerCache {
  readonly evictions = new EvictionCounters();
  readonly found = new FoundEntry();
  private readonly slab: SlabStore;
  private readonly lock: CacheLock;
  private readonly maxEntries: number;
  private readonly maxPages: number;
  private readonly header: Int32Array;
  private readonly scratch: Int32Array;
  private readonly segmentWords: Int32Array[];
  /** The slot find() found, and its generation, for keepTags(). */
  private foundSlot = NO_SLOT;
  private foundGeneration = 0;
  private readonly tagCode: Uint8Array;
  /** Tags not among constantTags, kept by this process: by slot, with the entry's generation. */
  private readonly localTags = new Map<number, LocalTags>();
  /**
   * A word of this process's own, added to between a lookup's reads and its check of the
   * sequence word: a read-modify-write orders the reads before the check on every CPU, where
   * an atomic load alone does not on ARM (it orders later reads, not earlier ones).
   */
  private readonly fence = new Int32Array(1);

  private readonly keys: Uint32Array;
  private readonly stored: Uint32Array;
  private readonly epoch: Float64Array;
  private readonly place: Uint32Array;
  private readonly lifetime: Uint32Array;
  private readonly hitCount: Uint16Array;
  private readonly generation: Uint32Array;
  private readonly table: Int32Array;
  private readonly mask: number;
  private readonly shift: number;
  /** 0 marks a free slot: answers without a message are never stored. */
  private readonly length: Uint16Array;
  private readonly ttlCount: Uint16Array;
  private readonly optOffset: Uint16Array;
  private readonly flags: Uint8Array;
  private readonly referenced: Uint8Array;

  private readonly constantTags: readonly object[];
  private readonly udpSize: number;
  /** The plain OPT records, without and with DO, as scanResponse() writes them (see optMark). */
  private readonly plainOpt = Buffer.alloc(OPT_LENGTH);
  private readonly plainOptDo = Buffer.alloc(OPT_LENGTH);

  constructor(
    private readonly memory: CacheMemory,
    { staleSeconds = 0, constantTags = [], udpSize = 0 }: AnswerCacheOptions = {},
  ) {
    if (constantTags.length > 255) throw new RangeError('at most 255 constant tag objects');
    this.constantTags = constantTags;
    this.udpSize = udpSize;
    writeOptHeader(this.plainOpt, 0, udpSize, 0, false, 0);
    writeOptHeader(this.plainOptDo, 0, udpSize, 0, true, 0);
    this.found.staleForMs = staleSeconds * 1000;
    this.maxEntries = memory.layout.entries;
    this.maxPages = memory.layout.pages;
    this.header = memory.header;
    this.slab = new SlabStore(memory);
    this.lock = new CacheLock(memory);
    this.scratch = new Int32Array(this.found.answer.bytes.buffer, this.found.answer.bytes.byteOffset, MAX_CHUNK >>> 2);
    this.segmentWords = memory.segments.map((segment) => new Int32Array(segment.buffer, segment.byteOffset, segment.length >>> 2));
    this.tagCode = memory.tagCode;
    this.keys = memory.keys;
    this.stored = memory.stored;
    this.epoch = memory.epoch;
    this.place = memory.place;
    this.lifetime = memory.lifetime;
    this.hitCount = memory.hitCount;
    this.generation = memory.generation;
    this.table = memory.table;
    this.mask = memory.table.length - 1;
    this.shift = memory.tableShift;
    this.length = memory.length;
    this.ttlCount = memory.ttlCount;
    this.optOffset = memory.optOffset;
    this.flags = memory.flags;
    this.referenced = memory.referenced;
    this.enter();
    try {
      // The first process to map the memory sets the empty cache up; the others find it so.
      // Fresh memory is all zeros, so the table and slots need no clearing (which would make
      // every page of them resident at start).
      if (this.header[Header.READY] !== READY_MARK) this.reset(false);
    } finally {
      this.leave();
    }
  }

  get size(): number {
    return this.header[Header.USED]!;
  }

  /** Bytes of slab pages in use: what maxBytes bounds. */
  get answerBytes(): number {
    return this.slab.reservedBytes;
  }

  /** Whether other processes use this cache too. */
  get shared(): boolean {
    return this.memory.shared;
  }

  /**
   * Looks `req`'s question up; when found, the entry is marked as asked for, a fresh
   * one (stored more recently than its lifetime before `now`) counts a hit, and `found`
   * describes it until the next call.
   */
  find(req: WireRequest, now: number): boolean {
    const header = this.header;
    for (let tries = 0; tries < READ_TRIES; tries++) {
      const changes = Atomics.load(header, Header.CHANGES);
      if ((changes & 1) !== 0) break;
      let slot: number;
      try {
        slot = this.read(req, now);
      } catch {
        // Read halfway through a store (an index it had not yet set): the check would fail too.
        continue;
      }
      Atomics.add(this.fence, 0, 1);
      if (Atomics.load(header, Header.CHANGES) !== changes) continue;
      if (slot !== NO_SLOT) this.counted(slot);
      return slot !== NO_SLOT;
    }
    this.enter();
    try {
      const slot = this.read(req, now);
      if (slot !== NO_SLOT) this.counted(slot);
      return slot !== NO_SLOT;
    } finally {
      this.leave();
    }
  }

  /** Fills `found` from `req`'s entry and returns its slot (NO_SLOT when there is none); only reads the memory. */
  private read(req: WireRequest, now: number): number {
    const slot = this.lookup(req);
    this.foundSlot = slot;
    if (slot === NO_SLOT) return NO_SLOT;
    const found = this.found;
    found.storedAt = this.epoch[0]! + this.stored[slot]! * TICK_MS;
    found.lifetimeMs = this.lifetime[slot]!;
    found.hits = now < found.expiresAt ? this.hitCount[slot]! + 1 : this.hitCount[slot]!;
    found.refreshing = (this.flags[slot]! & REFRESHING) !== 0;
    this.copyOut(slot);
    return slot;
  }

  /**
   * Records a hit read() found: its count and its CLOCK mark, plain stores without the lock
   * (two workers counting the same entry at once may lose one, which only delays a
   * prefetch; a mark landing on a slot reused meanwhile spares that entry one turn).
   */
  private counted(slot: number): void {
    this.hitCount[slot] = this.found.hits < 0xffff ? this.found.hits : 0xffff;
    // Read first: a popular entry's mark is nearly always set, and a write would take the line from other workers.
    if (this.referenced[slot] === 0) this.referenced[slot] = 1;
  }

  /** Marks `req`'s entry as being refreshed; false when it is gone or already marked (someone else refreshes it). */
  claimRefresh(req: WireRequest): boolean {
    return this.mark(req, 1);
  }

  /** Clears the mark of a refresh that brought nothing to store (the entry then expires normally). */
  endRefresh(req: WireRequest): void {
    this.mark(req, 0);
  }

  /** Keeps the tags this process computed for the entry find() found last. */
  keepTags(tags: object | null): void {
    const slot = this.foundSlot;
    if (slot === NO_SLOT) return;
    this.keepLocal(slot, this.foundGeneration, tags);
  }

  private keepLocal(slot: number, generation: number, tags: object | null): void {
    if (tags === null) this.localTags.delete(slot);
    else this.localTags.set(slot, new LocalTags(generation, tags));
  }

  /** The found answer as an Answer of its own, for holding across an await. */
  copy(): Answer {
    const view = this.found.answer;
    const bytes = Buffer.allocUnsafe(view.storedLength);
    view.bytes.copy(bytes, 0, 0, bytes.length);
    const answer = new Answer(bytes, 0, view.length, view.ttlCount, view.kind, view.rcode, view.optOffset, 0);
    answer.tags = view.tags;
    return answer;
  }

  /**
   * Stores a scanned upstream answer (POSITIVE or NEGATIVE; others are not kept) for `req`'s
   * question, replacing any entry it had.
   */
  set(req: WireRequest, answer: Answer, now: number, ttlSeconds: number): void {
    if (this.maxEntries === 0 || answer.length === 0 || answer.storedLength > MAX_CHUNK) return;
    if (answer.kind !== AnswerKind.POSITIVE && answer.kind !== AnswerKind.NEGATIVE) return;
    const opt = this.optMark(answer);
    const length = opt === PLAIN_OPT || opt === PLAIN_OPT_DO ? answer.length - OPT_LENGTH : answer.length;
    const tableBytes = answer.ttlCount * 2;
    const size = length + tableBytes;
    this.enter();
    try {
      this.beginChange();
      const ticks = this.ticksAt(now);
      const existing = this.lookup(req);
      if (existing !== NO_SLOT) this.drop(existing);
      if (!this.makeRoom(size)) return;
      const slot = this.header[Header.USED]! < this.maxEntries ? this.claim() : this.evict();
      this.keys[slot] = req.key;
      this.insert(slot);
      const address = this.slab.alloc(size);
      this.place[slot] = address;
      const segment = this.slab.segment(address);
      const at = this.slab.offset(address);
      answer.bytes.copy(segment, at, answer.start, answer.start + length);
      answer.bytes.copy(segment, at + length, answer.start + answer.length, answer.start + answer.length + tableBytes);
      this.length[slot] = length;
      this.ttlCount[slot] = answer.ttlCount;
      this.optOffset[slot] = opt;
      this.flags[slot] = questionFlags(req);
      this.referenced[slot] = 0;
      this.hitCount[slot] = 0;
      this.stored[slot] = ticks;
      this.lifetime[slot] = ttlSeconds * 1000;
      const generation = (this.header[Header.GENERATION]! + 1) >>> 0;
      this.header[Header.GENERATION] = generation;
      this.generation[slot] = generation;
      const code = answer.tags === null ? 0 : this.constantTags.indexOf(answer.tags) + 1;
      this.tagCode[slot] = code;
      this.keepLocal(slot, generation, code === 0 ? answer.tags : null);
    } finally {
      this.leave();
    }
  }

  clear(): void {
    this.enter();
    try {
      this.beginChange();
      this.reset(true);
    } finally {
      this.leave();
    }
  }

  /** Takes the lock; empties the cache when it was taken over from a process that died holding it. */
  private enter(): void {
    if (!this.lock.take()) return;
    this.evictions.resets++;
    this.header[Header.RESETS]!++;
    this.beginChange();
    this.reset(true);
  }

  /** Ends a change begun under the lock, if any, and gives the lock back. */
  private leave(): void {
    if ((this.header[Header.CHANGES]! & 1) !== 0) Atomics.add(this.header, Header.CHANGES, 1);
    this.lock.give();
  }

  /** Marks a change under way (odd), so lookups reading meanwhile try again; still odd when its holder died in one. */
  private beginChange(): void {
    if ((this.header[Header.CHANGES]! & 1) === 0) Atomics.add(this.header, Header.CHANGES, 1);
  }

  /** The empty cache; the generation counter runs on, so no tags kept before match an entry after. */
  private reset(used: boolean): void {
    const header = this.header;
    if (used) {
      this.table.fill(0);
      this.length.fill(0);
    }
    this.slab.reset();
    header[Header.USED] = 0;
    header[Header.CLAIMED] = 0;
    header[Header.FREE_SLOT] = NO_SLOT;
    header[Header.HAND] = 0;
    header[Header.ENTRIES] = this.maxEntries;
    header[Header.PAGES] = this.maxPages;
    header[Header.READY] = READY_MARK;
  }

  private mark(req: WireRequest, refreshing: 0 | 1): boolean {
    this.enter();
    try {
      const slot = this.lookup(req);
      if (slot === NO_SLOT || (this.flags[slot]! & REFRESHING) === refreshing) return false;
      this.flags[slot] = (this.flags[slot]! & ~REFRESHING) | refreshing;
      return true;
    } finally {
      this.leave();
    }
  }

  /**
   * Copies the slot's answer into `found.answer` (a word at a time: chunks are 8-byte
   * aligned), with its OPT record written back when it was not stored.
   */
  private copyOut(slot: number): void {
    const view = this.found.answer;
    const length = this.length[slot]!;
    const ttlCount = this.ttlCount[slot]!;
    const address = this.place[slot]!;
    const words = (storedLength(length, ttlCount) + 3) >>> 2;
    const source = this.segmentWords[this.slab.segmentIndex(address)]!;
    const from = this.slab.offset(address) >>> 2;
    const scratch = this.scratch;
    for (let i = 0; i < words; i++) scratch[i] = source[from + i]!;
    const bytes = view.bytes;
    const opt = this.optOffset[slot]!;
    if (opt === PLAIN_OPT || opt === PLAIN_OPT_DO) {
      // The TTL table moves up to make room (from its end: the two places overlap).
      for (let i = length + ttlCount * 2 - 1; i >= length; i--) bytes[i + OPT_LENGTH] = bytes[i]!;
      writeOptHeader(bytes, length, this.udpSize, 0, opt === PLAIN_OPT_DO, 0);
      view.length = length + OPT_LENGTH;
      view.optOffset = length;
    } else {
      view.length = length;
      view.optOffset = opt === NO_OPT ? -1 : opt;
    }
    view.ttlCount = ttlCount;
    // As scanResponse() judged them: the rcode's low bits are the header's, the rest the OPT record's.
    const rcode = bytes[3]! & 0x0f;
    view.rcode = view.optOffset < 0 ? rcode : rcode | (bytes[view.optOffset + 5]! << 4);
    view.kind = rcode === 0 && (bytes[6]! | bytes[7]!) !== 0 ? AnswerKind.POSITIVE : AnswerKind.NEGATIVE;
    const generation = this.generation[slot]!;
    this.foundGeneration = generation;
    view.stored = generation;
    const code = this.tagCode[slot]!;
    view.tags = code !== 0 ? this.constantTags[code - 1]! : this.localTags.size === 0 ? null : this.localTagsOf(slot, generation);
  }

  private localTagsOf(slot: number, generation: number): object | null {
    const kept = this.localTags.get(slot);
    return kept !== undefined && kept.generation === generation ? kept.tags : null;
  }

  /**
   * Frees pages until a block of `size` fits within the page limit: by moving chunks
   * together when enough pages can be handed back that way, else by evicting an entry.
   * False when even an empty cache could not hold it.
   */
  private makeRoom(size: number): boolean {
    if (this.maxPages === 0) return false;
    while (this.slab.needsPage(size) && !this.slab.hasFreePage) this.reclaim();
    return true;
  }

  /** Frees some pages; only called while the cache holds something (an empty one holds no pages). */
  private reclaim(): void {
    const pages = this.slab.reservedBytes / PAGE_SIZE;
    if (this.slab.reclaimablePages >= Math.max(1, Math.floor(pages * COMPACT_SHARE)) && this.compact()) return;
    this.evictions.forBytes++;
    this.drop(this.victim());
  }

  /** Moves the chunks of the pages the slab marks into other pages, which hands those pages back; true when it did. */
  private compact(): boolean {
    const slab = this.slab;
    const before = slab.reservedBytes;
    if (slab.startEvacuation() === 0) return false;
    this.evictions.compactions++;
    const claimed = this.header[Header.CLAIMED]!;
    for (let slot = 0; slot < claimed; slot++) {
      const from = this.place[slot]!;
      if (this.length[slot] === 0 || !slab.isEvacuating(from)) continue;
      const size = storedLength(this.length[slot]!, this.ttlCount[slot]!);
      const to = slab.alloc(size);
      slab.segment(from).copy(slab.segment(to), slab.offset(to), slab.offset(from), slab.offset(from) + size);
      this.place[slot] = to;
      slab.release(from);
    }
    slab.endEvacuation();
    return slab.reservedBytes < before;
  }

  /** Bounded by the table's length: read without the lock, a run may be changing under it. */
  private lookup(req: WireRequest): number {
    if (this.header[Header.USED] === 0) return NO_SLOT;
    const key = req.key >>> 0;
    const flags = questionFlags(req);
    const questionLength = req.questionLength;
    const slab = this.slab;
    const mask = this.mask;
    for (let i = this.home(key), probes = 0; probes <= mask; i = (i + 1) & mask, probes++) {
      const slot = this.table[i]! - 1;
      if (slot === NO_SLOT) return NO_SLOT;
      if (this.keys[slot] !== key || (this.flags[slot]! & QUESTION_FLAGS) !== flags) continue;
      // Hash keys can collide, question bytes cannot (the stored message keeps the upstream's
      // spelling of the name, so the comparison ignores case).
      if (this.length[slot]! < HEADER_LENGTH + questionLength) continue;
      const address = this.place[slot]!;
      if (equalsIgnoreCase(slab.segment(address), slab.offset(address) + HEADER_LENGTH, req.question, 0, questionLength)) return slot;
    }
    return NO_SLOT;
  }

  /** A free slot: one given back, else a never-used one. */
  private claim(): number {
    const header = this.header;
    header[Header.USED]!++;
    const free = header[Header.FREE_SLOT]!;
    if (free !== NO_SLOT) {
      header[Header.FREE_SLOT] = this.place[free]! - 1;
      return free;
    }
    return header[Header.CLAIMED]!++;
  }

  /** Frees the entry the CLOCK hand picks and returns its slot for reuse. */
  private evict(): number {
    this.evictions.forEntries++;
    const slot = this.victim();
    this.slab.release(this.place[slot]!);
    this.remove(slot);
    return slot;
  }

  /**
   * The entry to evict: from the hand on, the first live one no hit marked since the hand
   * last passed it, clearing the marks of those passed. Only called while the cache holds
   * something; two turns clear every mark, and the bound keeps hits marking entries behind
   * the hand from making it go round for ever.
   */
  private victim(): number {
    const header = this.header;
    const claimed = header[Header.CLAIMED]!;
    let slot = header[Header.HAND]!;
    for (let steps = 2 * claimed; ; steps--) {
      if (steps < -claimed) throw new Error('the cache has no entry to evict');
      if (slot >= claimed) slot = 0;
      if (this.length[slot] !== 0) {
        if (this.referenced[slot] === 0 || steps <= 0) break;
        this.referenced[slot] = 0;
      }
      slot++;
    }
    header[Header.HAND] = slot + 1;
    return slot;
  }

  /** Removes an entry and puts its slot on the free list (linked through `place`). */
  private drop(slot: number): void {
    const header = this.header;
    this.slab.release(this.place[slot]!);
    this.remove(slot);
    this.length[slot] = 0;
    this.localTags.delete(slot);
    this.place[slot] = header[Header.FREE_SLOT]! + 1;
    header[Header.FREE_SLOT] = slot;
    header[Header.USED]!--;
  }

  /** The optOffset to keep for `answer`: its OPT record's offset, or a mark for none or a plain one (not stored). */
  private optMark(answer: Answer): number {
    const at = answer.optOffset;
    if (at < 0) return NO_OPT;
    if (this.udpSize === 0 || at + OPT_LENGTH !== answer.length) return at;
    const start = answer.start + at;
    if (answer.bytes.compare(this.plainOpt, 0, OPT_LENGTH, start, start + OPT_LENGTH) === 0) return PLAIN_OPT;
    if (answer.bytes.compare(this.plainOptDo, 0, OPT_LENGTH, start, start + OPT_LENGTH) === 0) return PLAIN_OPT_DO;
    return at;
  }

  /**
   * A store time at `now` in ticks since the epoch, under the lock. The first store into an
   * empty cache sets the epoch; 8.5 years on, the ticks would overflow, and the cache is
   * emptied to start a new one.
   */
  private ticksAt(now: number): number {
    if (this.header[Header.CLAIMED] !== 0 && now - this.epoch[0]! >= MAX_TICKS * TICK_MS) this.reset(true);
    if (this.header[Header.CLAIMED] === 0) this.epoch[0] = now - EPOCH_SLACK_MS;
    const ticks = Math.floor((now - this.epoch[0]!) / TICK_MS);
    return ticks < 0 ? 0 : ticks;
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
}
