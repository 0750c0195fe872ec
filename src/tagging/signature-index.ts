import { MAX_NAME_LENGTH } from '../wire/constants.js';

/** One hostname rule of one app, as compiled into the index. */
export interface Signature<App> {
  readonly app: App;
  /** The rule as written: a domain ("tiktokv.com") or an anchored pattern. */
  readonly rule: string;
  /** Lower-cased wire form of the domain (or of the pattern's literal suffix), root label excluded. */
  readonly suffix: Buffer;
  /** For pattern rules: the whole name must match this; checked only for names ending in `suffix`. */
  readonly pattern: RegExp | null;
}

const MAX_LABELS = 128;
const SEED = 0x811c9dc5;


/**
 * Hostname signatures compiled into a hash map keyed by a hash of each rule's wire-form
 * suffix. A lookup hashes the name's suffixes label by label from the right (com,
 * tiktokv.com, api.tiktokv.com …) and probes the map once per label, stopping at the label
 * count of the longest rule, so its cost depends on the rules' depth, never on their number. Matches are on label boundaries
 * only; the most specific (longest) suffix wins, so "weixin.qq.com" can belong to another
 * app than "qq.com".
 */
export class SignatureIndex<App> {
  private readonly table = new SuffixTable();
  /** Signatures by table slot value; signatures sharing a suffix hash are chained by `nextWithHash`. */
  private readonly signatures: Signature<App>[] = [];
  private readonly nextWithHash: number[] = [];
  private readonly labelStarts = new Int32Array(MAX_LABELS);
  private readonly scratch = Buffer.alloc(MAX_NAME_LENGTH + 1);
  size = 0;
  /** Where the last match's suffix starts in the name looked up (set by match()). */
  matchedAt = -1;
  /** Labels in the longest rule: labels further left can never change the answer. */
  private maxLabels = 0;

  add(app: App, rule: string, domain: string, pattern: RegExp | null = null): void {
    const suffix = toWire(domain);
    const key = suffixHash(suffix, 0, suffix.length);
    let labels = 0;
    for (let pos = 0; pos < suffix.length; pos += suffix[pos]! + 1) labels++;
    if (labels > this.maxLabels) this.maxLabels = labels;
    const id = this.signatures.length;
    this.signatures.push({ app, rule, suffix, pattern });
    this.nextWithHash.push(this.table.get(key));
    this.table.set(key, id);
    this.size++;
  }

  /**
   * Looks up a lower-cased, uncompressed wire name (labels ending in a zero byte) starting
   * at `offset`. Pattern rules need the name as text and get it from `text()` only when
   * their suffix already matched. Allocation-free; sets `matchedAt`.
   */
  match(wire: Buffer, offset: number, text: () => string): Signature<App> | null {
    const starts = this.labelStarts;
    let labels = 0;
    let pos = offset;
    for (let length = wire[pos]!; length !== 0; length = wire[pos]!) {
      if (labels === MAX_LABELS || length === undefined) return null;
      starts[labels++] = pos;
      pos += length + 1;
    }
    const end = pos;
    let best: Signature<App> | null = null;
    this.matchedAt = -1;
    let h = SEED;
    const last = labels > this.maxLabels ? labels - this.maxLabels : 0;
    for (let i = labels - 1; i >= last; i--) {
      const start = starts[i]!;
      h = mixLabel(h, wire, start, start + wire[start]! + 1);
      for (let id = this.table.get(h); id >= 0; id = this.nextWithHash[id]!) {
        const signature = this.signatures[id]!;
        if (!sameBytes(signature.suffix, wire, start, end)) continue;
        if (signature.pattern !== null && !signature.pattern.test(text())) continue;
        best = signature;
        this.matchedAt = start;
        break;
      }
    }
    return best;
  }

  /** The same lookup for a name in presentation form ("Api.TikTokV.com."): slow path and tools. */
  matchName(name: string): Signature<App> | null {
    const length = writeWire(name, this.scratch);
    if (length < 0) return null;
    return this.match(this.scratch, 0, () => normaliseName(name));
  }
}

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

/** Byte comparison in JS: for suffixes of a few dozen bytes it beats crossing into C++. */
function sameBytes(suffix: Buffer, wire: Buffer, start: number, end: number): boolean {
  if (suffix.length !== end - start) return false;
  for (let i = 0; i < suffix.length; i++) if (suffix[i] !== wire[start + i]) return false;
  return true;
}

/** Per byte a shift and two adds (no multiply in the dependency chain), one mix per label. */
function mixLabel(h: number, wire: Buffer, start: number, end: number): number {
  for (let i = start; i < end; i++) h = ((h << 5) + h + wire[i]!) | 0;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return h ^ (h >>> 12);
}

/**
 * Open-addressing hash table from 32-bit suffix hashes to the newest signature id with that
 * hash: two typed arrays, linear probing, no boxing. A V8 Map probe costs several times more.
 */
class SuffixTable {
  private keys = new Int32Array(16);
  private values = new Int32Array(16).fill(-1);
  private used = 0;

  get(hash: number): number {
    const mask = this.keys.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const value = this.values[slot]!;
      if (value < 0) return -1;
      if (this.keys[slot] === hash) return value;
    }
  }

  set(hash: number, value: number): void {
    if ((this.used + 1) * 2 > this.keys.length) this.grow();
    const mask = this.keys.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      if (this.values[slot]! < 0) {
        this.keys[slot] = hash;
        this.values[slot] = value;
        this.used++;
        return;
      }
      if (this.keys[slot] === hash) {
        this.values[slot] = value;
        return;
      }
    }
  }

  private grow(): void {
    const { keys, values } = this;
    this.keys = new Int32Array(keys.length * 2);
    this.values = new Int32Array(keys.length * 2).fill(-1);
    this.used = 0;
    for (let slot = 0; slot < keys.length; slot++) if (values[slot]! >= 0) this.set(keys[slot]!, values[slot]!);
  }
}

/** Hash of a wire suffix, computed label by label from the right as match() does. */
function suffixHash(wire: Buffer, start: number, end: number): number {
  const starts: number[] = [];
  for (let pos = start; pos < end; pos += wire[pos]! + 1) starts.push(pos);
  let h = SEED;
  for (let i = starts.length - 1; i >= 0; i--) h = mixLabel(h, wire, starts[i]!, starts[i]! + wire[starts[i]!]! + 1);
  return h;
}
