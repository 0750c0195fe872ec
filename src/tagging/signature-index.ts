import { MAX_NAME_LENGTH } from '../wire/constants.js';

/** Where a rule comes from: the catalogue as published, or the operator's local rules file. */
export type RuleOrigin = 'shipped' | 'local';

/** One hostname rule of one app, as compiled into the index. */
export interface Signature<App> {
  readonly app: App;
  /** The rule as written: a domain ("tiktokv.com") or an anchored pattern. */
  readonly rule: string;
  /** So events and explain can tell an operator's own rule from a published one. */
  readonly origin: RuleOrigin;
  /** Lower-cased wire form of the domain (or of the pattern's literal suffix), root label excluded. */
  readonly suffix: Buffer;
  /** For pattern rules: the whole name must match this; checked only for names ending in `suffix`. */
  readonly pattern: RegExp | null;
}

const MAX_LABELS = 128;
/** Words in the longest possible suffix: 255 bytes, four to a word. */
const MAX_WORDS = 64;
const SEED = 0x811c9dc5;

/** Fields of a table slot; LENGTH holds the suffix length shifted left by one, ORed with "has a pattern". */
const HASH = 0;
const ID = 1;
const OFFSET = 2;
const LENGTH = 3;
const SLOT_SHIFT = 2;
const SLOT = 1 << SLOT_SHIFT;

/**
 * Hostname signatures compiled into a hash table keyed by a hash of each rule's wire-form
 * suffix. A lookup hashes the name's suffixes from the right (com, tiktokv.com,
 * api.tiktokv.com …) and probes the table only at label counts some rule has, stopping at the
 * longest rule, so its cost depends on the rules' depth, never on their number. Matches are
 * on label boundaries only; the most specific (longest) suffix wins, so "weixin.qq.com" can
 * belong to another app than "qq.com".
 *
 * Suffixes are hashed and compared four bytes at a time, in words aligned on the name's
 * end so that every suffix of a name shares the words of the shorter ones, and a hit reads
 * only typed arrays: the slot, then the rule's words.
 */
export class SignatureIndex<App> {
  private readonly table = new SuffixTable();
  private readonly signatures: Signature<App>[] = [];
  /** Every rule's suffix words (see suffixWords), back to back. */
  private words = new Int32Array(256);
  private wordCount = 0;
  /** ruleDepths[n] !== 0 when some rule has n labels: other depths need no probe. */
  private readonly ruleDepths = new Uint8Array(MAX_LABELS + 1);
  private readonly labelStarts = new Int32Array(MAX_LABELS);
  private readonly nameWords = new Int32Array(MAX_WORDS);
  private readonly scratch = Buffer.alloc(MAX_NAME_LENGTH + 1);
  size = 0;
  /** Where the last match's suffix starts in the name looked up (set by match()). */
  matchedAt = -1;
  /** Labels in the longest rule: labels further left can never change the answer. */
  private maxLabels = 0;

  add(app: App, rule: string, domain: string, pattern: RegExp | null = null, origin: RuleOrigin = 'shipped'): void {
    const suffix = toWire(domain);
    let labels = 0;
    for (let pos = 0; pos < suffix.length; pos += suffix[pos]! + 1) labels++;
    if (labels > this.maxLabels) this.maxLabels = labels;
    this.ruleDepths[labels] = 1;

    // The table numbers its entries in the order added, as `signatures` is indexed.
    this.signatures.push({ app, rule, origin, suffix, pattern });
    const offset = this.wordCount;
    if (offset + MAX_WORDS > this.words.length) this.words = grown(this.words, offset + MAX_WORDS);
    const words = this.words.subarray(offset);
    const hash = suffixWords(Buffer.concat([suffix, ROOT]), 0, suffix.length, words);
    this.wordCount += (suffix.length + 3) >> 2;
    this.table.add(hash, offset, (suffix.length << 1) | (pattern === null ? 0 : 1));
    this.size++;
  }

  /**
   * Looks up a lower-cased, uncompressed wire name (labels ending in a zero byte) starting
   * at `offset`. Pattern rules need the name as text and get it from `text()` only when
   * their suffix already matched. Allocation-free; sets `matchedAt`.
   */
  match(wire: Buffer, offset: number, text: () => string): Signature<App> | null {
    this.matchedAt = -1;
    const starts = this.labelStarts;
    let labels = 0;
    let pos = offset;
    for (let length = wire[pos]!; length !== 0; length = wire[pos]!) {
      if (labels === MAX_LABELS || length === undefined) return null;
      starts[labels++] = pos;
      pos += length + 1;
    }
    const end = pos;
    const { slots } = this.table;
    const mask = slots.length - 1;
    const { words, nameWords, ruleDepths } = this;
    const depths = labels < this.maxLabels ? labels : this.maxLabels;
    let best = -1;
    let bestAt = -1;
    let name: string | null = null;
    // The name's words from its end, hashed as far as the deepest probe so far needed.
    let h = SEED;
    let hashed = 0;
    for (let depth = 1; depth <= depths; depth++) {
      if (ruleDepths[depth] === 0) continue;
      const start = starts[labels - depth]!;
      const length = end - start;
      const full = length >> 2;
      for (; hashed < full; hashed++) {
        const word = wordEndingAt(wire, end - 4 * hashed);
        nameWords[hashed] = word;
        h = mixWord(h, word);
      }
      const rest = length & 3;
      const head = rest === 0 ? 0 : headWord(wire, start, rest);
      const key = finish(rest === 0 ? h : mixWord(h, head), length);
      for (let s = (key << SLOT_SHIFT) & mask; slots[s + ID]! >= 0; s = (s + SLOT) & mask) {
        if (slots[s + HASH] !== key || slots[s + LENGTH]! >> 1 !== length) continue;
        // Equal hashes prove nothing: only equal lengths and equal words make a match.
        const at = slots[s + OFFSET]!;
        if ((rest !== 0 && words[at + full] !== head) || !sameWords(words, at, nameWords, full)) continue;
        const id = slots[s + ID]!;
        if ((slots[s + LENGTH]! & 1) !== 0 && !this.signatures[id]!.pattern!.test((name ??= text()))) continue;
        best = id;
        bestAt = start;
        break;
      }
    }
    if (best < 0) return null;
    this.matchedAt = bestAt;
    return this.signatures[best]!;
  }

  /** The same lookup for a name in presentation form ("Api.TikTokV.com."): slow path and tools. */
  matchName(name: string): Signature<App> | null {
    const length = writeWire(name, this.scratch);
    if (length < 0) return null;
    return this.match(this.scratch, 0, () => normaliseName(name));
  }
}

const ROOT = Buffer.from([0]);

/** Lower-case, no trailing dot: the form patterns are written against. */
export function normaliseName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Wire form of a domain without its root label; throws on names DNS cannot carry. */
export function toWire(domain: string): Buffer {
  const out = Buffer.alloc(MAX_NAME_LENGTH + 1);
  const length = writeWire(domain, out);
  if (length < 0) throw new Error(`"${domain}" is not a valid domain name`);
  return out.subarray(0, length - 1);
}

/** Writes `name` lower-cased in wire form (with the root label); returns the length or -1. */
function writeWire(name: string, out: Buffer): number {
  const text = normaliseName(name);
  if (text.length === 0) {
    out[0] = 0;
    return 1;
  }
  let o = 0;
  for (const label of text.split('.')) {
    if (label.length === 0 || label.length > 63 || o + label.length + 2 > out.length) return -1;
    out[o++] = label.length;
    for (let i = 0; i < label.length; i++) {
      const c = label.charCodeAt(i);
      if (c > 0x7e) return -1;
      out[o++] = c;
    }
  }
  out[o++] = 0;
  return o;
}

/**
 * Splits the suffix wire[start, end) into words as match() does and returns its hash:
 * words[k] holds the four bytes ending 4k bytes before `end`, and a leading remainder of
 * one to three bytes becomes a last word with the missing bytes zero. `wire[end]` must exist.
 * Exported for tests that need two suffixes with the same hash.
 */
export function suffixWords(wire: Uint8Array, start: number, end: number, words: Int32Array): number {
  const length = end - start;
  const full = length >> 2;
  let h = SEED;
  for (let k = 0; k < full; k++) {
    words[k] = wordEndingAt(wire, end - 4 * k);
    h = mixWord(h, words[k]!);
  }
  const rest = length & 3;
  if (rest === 0) return finish(h, length);
  words[full] = headWord(wire, start, rest);
  return finish(mixWord(h, words[full]!), length);
}

/** The four bytes before `end` as one int, built from bytes: names sit at any offset in a packet, so no aligned view fits. */
function wordEndingAt(wire: Uint8Array, end: number): number {
  return wire[end - 4]! | (wire[end - 3]! << 8) | (wire[end - 2]! << 16) | (wire[end - 1]! << 24);
}

/**
 * The first `rest` (1–3) bytes from `start`, in the lanes wordEndingAt() would give them.
 * Reads three bytes and shifts the ones past `rest` out, saving a branch per byte; the
 * third can be the byte at the suffix end when the suffix is two bytes long.
 */
function headWord(wire: Uint8Array, start: number, rest: number): number {
  return (wire[start]! | (wire[start + 1]! << 8) | (wire[start + 2]! << 16)) << (32 - 8 * rest);
}

function sameWords(words: Int32Array, at: number, nameWords: Int32Array, count: number): boolean {
  for (let k = 0; k < count; k++) if (words[at + k] !== nameWords[k]) return false;
  return true;
}

/** MurmurHash3's per-block step: the multiplies are off the chain that links the words. */
function mixWord(h: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** MurmurHash3's finaliser, with the length mixed in so that zero lanes cannot alias. */
function finish(h: number, length: number): number {
  h ^= length;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function grown(array: Int32Array, atLeast: number): Int32Array<ArrayBuffer> {
  let length = array.length * 2;
  while (length < atLeast) length *= 2;
  const copy = new Int32Array(length);
  copy.set(array);
  return copy;
}

/**
 * Open-addressing hash table from 32-bit suffix hashes to signatures: linear probing over
 * one Int32Array of (hash, id, suffix offset, suffix length << 1 | has pattern) slots, so a
 * probe and the check that follows read one cache line and no objects. Signatures sharing a
 * hash sit in the same probe run, newest first, so the newest of two rules for one suffix
 * wins, as it would in a Map that was overwritten.
 */
class SuffixTable {
  slots = new Int32Array(16 * SLOT).fill(-1);
  /** (hash, offset, length and flag) by signature id, to rebuild the slots in id order. */
  private entries = new Int32Array(16 * 3);
  private count = 0;

  /** Adds the next signature id. */
  add(hash: number, offset: number, lengthAndFlag: number): void {
    if ((this.count + 1) * 3 > this.entries.length) this.entries = grown(this.entries, (this.count + 1) * 3);
    this.entries.set([hash, offset, lengthAndFlag], this.count * 3);
    this.count++;
    if (this.count * 2 * SLOT <= this.slots.length) {
      this.place(this.count - 1);
      return;
    }
    this.slots = new Int32Array(this.slots.length * 2).fill(-1);
    for (let id = 0; id < this.count; id++) this.place(id);
  }

  /** Puts `id` in its hash's probe run ahead of the older signatures with the same hash. */
  private place(id: number): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    const hash = this.entries[id * 3]!;
    let carried = [id, this.entries[id * 3 + 1]!, this.entries[id * 3 + 2]!];
    for (let s = (hash << SLOT_SHIFT) & mask; ; s = (s + SLOT) & mask) {
      if (slots[s + ID]! < 0) {
        slots.set([hash, ...carried], s);
        return;
      }
      if (slots[s + HASH] === hash) {
        const older = [slots[s + ID]!, slots[s + OFFSET]!, slots[s + LENGTH]!];
        slots.set(carried, s + ID);
        carried = older;
      }
    }
  }
}
