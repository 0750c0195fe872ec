import { EDNS_DO, EDNS_OPTION_EDE, Flag, HEADER_LENGTH, RCODE_MASK, Rcode, RrClass, RrType } from './constants.js';
import { blockSoaRecord, recordAtQuestion } from './question-records.js';
import { equalsIgnoreCase, skipName } from './names.js';

/** How an answer may be cached (RFC 2308 for the negative kinds). */
export const AnswerKind = {
  POSITIVE: 0,
  NEGATIVE: 1,
  /** SERVFAIL, REFUSED and the like: passed on, never cached. */
  UNCACHEABLE: 2,
  /** Made by Wachtpost itself (errors): header and question are the client's. */
  SYNTHETIC: 3,
  /** A policy block: written per client as NXDOMAIN + SOA, a null address or REFUSED. */
  BLOCKED: 4,
  /** Records made here (the CHAOS identity): written per client after its header and question. */
  LOCAL: 5,
  /** No reply at all over UDP (a rate-limited client); over TCP, where no source is forged, a synthetic one. */
  DROP: 6,
} as const;
export type AnswerKind = (typeof AnswerKind)[keyof typeof AnswerKind];

export type BlockStyle = 'nxdomain' | 'null' | 'refused' | 'sinkhole';

/**
 * Bytes a message and its TTL table (a u16 offset per record; the TTLs as received are the
 * message's own) take together: 8 bytes less per one-record answer than a table repeating
 * the TTLs after a 4-byte boundary, which takes a small answer down one slab size class.
 */
export function storedLength(messageLength: number, ttlCount: number): number {
  return messageLength + ttlCount * 2;
}

/**
 * An answer ready to be sent to any number of clients: the upstream's bytes, scanned once
 * so that serving it is a copy plus patches at known offsets.
 *
 * Its bytes sit in `bytes` from `start`: the message (OPT record last, every TTL as
 * received), then right after it a TTL table: the u16 offsets (little-endian) of the
 * message's `ttlCount` TTL fields. One block per answer means a cached
 * answer can be copied into shared storage whole. An answer from the upstream never
 * changes once built, which lets coalesced waiters share it; the cache serves hits through
 * one answer per process that it copies each hit into (AnswerCache.found), valid until
 * the next lookup.
 */
export class Answer {
  /**
   * What the tagging stage learnt about this answer (app, matched name, addresses). Set once,
   * before the answer is cached or shared; opaque to the wire layer.
   */
  tags: object | null = null;
  /**
   * For a view of a cached answer: the number the cache gave that store, unique in the node,
   * so a process can remember what it derived from those bytes. 0 for any other answer.
   */
  stored = 0;

  constructor(
    public bytes: Buffer,
    public start: number,
    /** Length of the message; 0 for SYNTHETIC and BLOCKED answers, which are written per client. */
    public length: number,
    /** TTL fields in the message (the OPT record has none). */
    public ttlCount: number,
    public kind: AnswerKind,
    public rcode: number,
    /** Offset of the OPT record in the message, or -1. */
    public optOffset: number,
    /** Seconds this answer may be cached before min/max clamping; 0 = do not cache. */
    public ttl: number,
    /** Extended DNS Error carried by a synthetic answer (RFC 8914), or -1. */
    readonly edeCode = -1,
    readonly edeText: Buffer = NO_BYTES,
  ) {}

  static synthetic(rcode: number, edeCode = -1, edeText = ''): Answer {
    return new Answer(NO_BYTES, 0, 0, 0, AnswerKind.SYNTHETIC, rcode, -1, 0, edeCode, Buffer.from(edeText, 'utf8'));
  }

  /** Nothing for a UDP client; the rcode (and EDE) for a TCP one. */
  static drop(rcode: number, edeCode = -1, edeText = ''): Answer {
    return new Answer(NO_BYTES, 0, 0, 0, AnswerKind.DROP, rcode, -1, 0, edeCode, Buffer.from(edeText, 'utf8'));
  }

  /** The message alone, as a view (allocates: for tagging and tests, not the hit path). */
  get wire(): Buffer {
    return this.bytes.subarray(this.start, this.start + this.length);
  }

  /** Bytes the message and its TTL table take from `start`. */
  get storedLength(): number {
    return storedLength(this.length, this.ttlCount);
  }

  /** The i-th TTL as received, a TTL with the top bit set read as 0 (RFC 2181 §8). */
  ttlAt(i: number): number {
    return this.ttlIn(this.ttlOffsetAt(i));
  }

  /** The TTL as received in the field at `offset` of the message (see ttlOffsetAt), top-bit TTLs as 0. */
  ttlIn(offset: number): number {
    const ttl = this.bytes.readUInt32BE(this.start + offset);
    return ttl > 0x7fffffff ? 0 : ttl;
  }

  /** Where in the message the i-th TTL field sits. */
  ttlOffsetAt(i: number): number {
    return this.bytes.readUInt16LE(this.start + this.length + 2 * i);
  }
}

/**
 * What a blocked query gets, with an Extended DNS Error (Blocked) naming the rule; built
 * once per rule, its records too, so a reply only puts them behind the client's question.
 */
export class BlockedAnswer extends Answer {
  /** The SOA of NXDOMAIN and NODATA blocks. */
  readonly soaRecord: Buffer;
  /** The records A and AAAA queries get for the null or sinkhole address, or null for NODATA. */
  readonly ipv4Record: Buffer | null;
  readonly ipv6Record: Buffer | null;

  constructor(
    readonly style: BlockStyle,
    blockTtl: number,
    ruleText: string,
    /** The addresses A and AAAA queries get (4 and 16 bytes), or null for NODATA. */
    ipv4: Buffer | null = null,
    ipv6: Buffer | null = null,
  ) {
    super(NO_BYTES, 0, 0, 0, AnswerKind.BLOCKED, style === 'refused' ? 5 : style === 'nxdomain' ? 3 : 0, -1, 0, 15, Buffer.from(ruleText, 'utf8'));
    this.soaRecord = blockSoaRecord(blockTtl);
    const addresses = style !== 'nxdomain' && style !== 'refused';
    this.ipv4Record = addresses && ipv4 !== null ? recordAtQuestion(RrType.A, RrClass.IN, blockTtl, ipv4) : null;
    this.ipv6Record = addresses && ipv6 !== null ? recordAtQuestion(RrType.AAAA, RrClass.IN, blockTtl, ipv6) : null;
  }
}

/**
 * Records this server answers with itself, built once (owner names point at the question):
 * each client gets its own header and question, then these.
 */
export class LocalAnswer extends Answer {
  constructor(
    rcode: number,
    readonly records: Buffer,
    readonly answerCount: number,
  ) {
    super(NO_BYTES, 0, 0, 0, AnswerKind.LOCAL, rcode, -1, 0);
  }
}

const NO_BYTES = Buffer.alloc(0);
const OPT_HEADER_LENGTH = 11;

/** Why an upstream message was not accepted. */
export const ScanResult = {
  OK: 0,
  NOT_A_RESPONSE: 1,
  WRONG_ID: 2,
  WRONG_QUESTION: 3,
  MALFORMED: 4,
  /** TC=1: the right answer, cut short; ask again over TCP. */
  TRUNCATED: 5,
  /** Our question, but not in the case we sent it (0x20): forged, or an upstream that does not keep case. */
  WRONG_CASE: 6,
} as const;
export type ScanResult = (typeof ScanResult)[keyof typeof ScanResult];

/** Scratch for the scan: TTL offsets found so far (grows, never shrinks). */
let scratchOffsets = new Uint16Array(256);

export interface ScanOutcome {
  result: ScanResult;
  answer: Answer | null;
}

/**
 * Checks that `msg` answers exactly the question we sent (`id`, and `question`: name + type +
 * class as sent, compared ignoring case unless `exactCase`, for 0x20) and scans it into an
 * Answer. The OPT record is rebuilt: our UDP size, the DO bit and extended rcode kept,
 * hop-by-hop options (cookies, padding, NSID) dropped and Extended DNS Errors kept, because
 * those speak to the end client.
 */
export function scanResponse(msg: Buffer, id: number, question: Buffer, questionLength: number, udpSize: number, exactCase = false): ScanOutcome {
  const length = msg.length;
  if (length < HEADER_LENGTH) return reject(ScanResult.MALFORMED);
  const flags = (msg[2]! << 8) | msg[3]!;
  if ((flags & Flag.QR) === 0) return reject(ScanResult.NOT_A_RESPONSE);
  if (((msg[0]! << 8) | msg[1]!) !== id) return reject(ScanResult.WRONG_ID);
  if (((msg[4]! << 8) | msg[5]!) !== 1) return reject(ScanResult.WRONG_QUESTION);
  const questionEnd = HEADER_LENGTH + questionLength;
  if (questionEnd > length || !equalsIgnoreCase(msg, HEADER_LENGTH, question, 0, questionLength)) {
    return reject(ScanResult.WRONG_QUESTION);
  }
  if (exactCase && msg.compare(question, 0, questionLength, HEADER_LENGTH, questionEnd) !== 0) return reject(ScanResult.WRONG_CASE);
  if ((flags & Flag.TC) !== 0) return reject(ScanResult.TRUNCATED);

  const ancount = (msg[6]! << 8) | msg[7]!;
  const nscount = (msg[8]! << 8) | msg[9]!;
  const arcount = (msg[10]! << 8) | msg[11]!;
  const records = ancount + nscount + arcount;
  if (records > scratchOffsets.length) scratchOffsets = new Uint16Array(records);
  let count = 0;
  let minTtl = 0xffffffff;
  let soaTtl = -1;
  let optStart = -1;
  let optEnd = -1;
  let pos = questionEnd;
  for (let i = 0; i < records; i++) {
    const start = pos;
    pos = skipName(msg, pos, length);
    if (pos < 0 || pos + 10 > length) return reject(ScanResult.MALFORMED);
    const type = (msg[pos]! << 8) | msg[pos + 1]!;
    const rdlength = (msg[pos + 8]! << 8) | msg[pos + 9]!;
    const end = pos + 10 + rdlength;
    if (end > length) return reject(ScanResult.MALFORMED);
    if (type === RrType.OPT) {
      // One OPT, root-named, in the additional section, and last (nothing after it needs moving).
      if (i < ancount + nscount || optStart >= 0 || msg[start] !== 0 || i !== records - 1) {
        return reject(ScanResult.MALFORMED);
      }
      optStart = start;
      optEnd = end;
    } else {
      const ttl = msg.readUInt32BE(pos + 4);
      // RFC 2181 §8: a TTL with the top bit set means zero.
      const effective = ttl > 0x7fffffff ? 0 : ttl;
      scratchOffsets[count] = pos + 4;
      count++;
      if (i < ancount + nscount && effective < minTtl) minTtl = effective;
      if (i >= ancount && i < ancount + nscount && type === RrType.SOA && rdlength >= 22) {
        const minimum = msg.readUInt32BE(end - 4);
        soaTtl = Math.min(effective, minimum > 0x7fffffff ? 0 : minimum);
      }
    }
    pos = end;
  }
  if (pos !== length) return reject(ScanResult.MALFORMED);

  const rcode = flags & RCODE_MASK;
  let kind: AnswerKind;
  let ttl: number;
  if (rcode === Rcode.NOERROR && ancount > 0) {
    kind = AnswerKind.POSITIVE;
    ttl = minTtl === 0xffffffff ? 0 : minTtl;
  } else if (rcode === Rcode.NXDOMAIN || rcode === Rcode.NOERROR) {
    // RFC 2308 §5: without a SOA a negative answer must not be cached.
    kind = AnswerKind.NEGATIVE;
    ttl = soaTtl < 0 ? 0 : soaTtl;
  } else {
    kind = AnswerKind.UNCACHEABLE;
    ttl = 0;
  }

  const body = optStart >= 0 ? optStart : length;
  const dnssecOk = optStart >= 0 && (msg.readUInt16BE(optStart + 7) & EDNS_DO) !== 0;
  const extendedRcode = optStart >= 0 ? msg[optStart + 5]! : 0;
  const edeOptions = optStart >= 0 ? keptOptionsLength(msg, optStart + OPT_HEADER_LENGTH, optEnd) : 0;
  // One allocation holds the message and its TTL table: a cached answer is then one
  // block that the cache copies into its slabs.
  const wireLength = body + OPT_HEADER_LENGTH + edeOptions;
  const block = Buffer.allocUnsafe(storedLength(wireLength, count));
  for (let i = 0; i < count; i++) block.writeUInt16LE(scratchOffsets[i]!, wireLength + 2 * i);
  msg.copy(block, 0, 0, body);
  if (optStart < 0) block.writeUInt16BE(arcount + 1, 10);
  writeOptHeader(block, body, udpSize, extendedRcode, dnssecOk, edeOptions);
  if (edeOptions > 0) copyKeptOptions(msg, optStart + OPT_HEADER_LENGTH, optEnd, block, body + OPT_HEADER_LENGTH);

  return {
    result: ScanResult.OK,
    answer: new Answer(block, 0, wireLength, count, kind, rcode | (extendedRcode << 4), body, ttl),
  };
}

function reject(result: ScanResult): ScanOutcome {
  return { result, answer: null };
}

/** Writes an OPT record header at `at` (RFC 6891 §6.1.2). */
export function writeOptHeader(out: Buffer, at: number, udpSize: number, extendedRcode: number, dnssecOk: boolean, rdlength: number): void {
  out[at] = 0;
  out.writeUInt16BE(RrType.OPT, at + 1);
  out.writeUInt16BE(udpSize, at + 3);
  out[at + 5] = extendedRcode;
  out[at + 6] = 0;
  out.writeUInt16BE(dnssecOk ? EDNS_DO : 0, at + 7);
  out.writeUInt16BE(rdlength, at + 9);
}

function keptOptionsLength(msg: Buffer, pos: number, end: number): number {
  let kept = 0;
  while (pos + 4 <= end) {
    const optionLength = 4 + msg.readUInt16BE(pos + 2);
    if (msg.readUInt16BE(pos) === EDNS_OPTION_EDE && pos + optionLength <= end) kept += optionLength;
    pos += optionLength;
  }
  return kept;
}

function copyKeptOptions(msg: Buffer, pos: number, end: number, out: Buffer, at: number): void {
  while (pos + 4 <= end) {
    const optionLength = 4 + msg.readUInt16BE(pos + 2);
    if (msg.readUInt16BE(pos) === EDNS_OPTION_EDE && pos + optionLength <= end) {
      msg.copy(out, at, pos, pos + optionLength);
      at += optionLength;
    }
    pos += optionLength;
  }
}

