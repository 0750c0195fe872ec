import {
  CLASSIC_UDP_SIZE,
  EDNS_DO,
  Flag,
  HEADER_LENGTH,
  MAX_LABEL_LENGTH,
  MAX_NAME_LENGTH,
  OPCODE_MASK,
  RrType,
} from './constants.js';
import { skipName } from './names.js';

/** What reading a request decided before any stage sees it. */
export const ReadResult = {
  OK: 0,
  /** Shorter than a header, or a response: answering could feed a reflection loop. */
  DROP: 1,
  FORMERR: 2,
  NOTIMP: 3,
  BADVERS: 4,
  /** Zone transfers: a forwarder is no authority to transfer from. */
  REFUSED: 5,
} as const;
export type ReadResult = (typeof ReadResult)[keyof typeof ReadResult];

/**
 * A client's request, read in place. The question is copied once, lower-cased, into
 * `question` (name + type + class), hashed on the way so the cache needs no string key.
 * One instance is reused for every packet a listener reads synchronously.
 */
export class WireRequest {
  msg: Buffer = EMPTY;
  id = 0;
  flags = 0;
  /** Offset just past QTYPE/QCLASS in `msg`: the client's question is msg[12, questionEnd). */
  questionEnd = 0;
  qtype = 0;
  qclass = 0;
  /** Lower-cased question bytes; only the first `questionLength` are valid. */
  readonly question = Buffer.alloc(MAX_NAME_LENGTH + 4);
  questionLength = 0;
  /** 53-bit hash of the lower-cased question and the DO/CD bits: the cache and coalescing key. */
  key = 0;
  edns = false;
  ednsVersion = 0;
  udpSize = CLASSIC_UDP_SIZE;
  dnssecOk = false;

  get checkingDisabled(): boolean {
    return (this.flags & Flag.CD) !== 0;
  }

  /** Copies everything a later asynchronous step needs; the source may be reused afterwards. */
  copyFrom(other: WireRequest): void {
    // Bytes of its own: the source's may be a view of a buffer its listener refills.
    this.msg = Buffer.from(other.msg);
    this.id = other.id;
    this.flags = other.flags;
    this.questionEnd = other.questionEnd;
    this.qtype = other.qtype;
    this.qclass = other.qclass;
    other.question.copy(this.question, 0, 0, other.questionLength);
    this.questionLength = other.questionLength;
    this.key = other.key;
    this.edns = other.edns;
    this.ednsVersion = other.ednsVersion;
    this.udpSize = other.udpSize;
    this.dnssecOk = other.dnssecOk;
  }

  /** Query name in presentation form, lower-case, without the trailing dot ("" for the root). Slow path only. */
  qname(): string {
    return nameToString(this.question, 0);
  }
}

const EMPTY = Buffer.alloc(0);
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * Reads a request header, question and OPT record into `req`, validating as it goes.
 * Allocation-free: the question is folded and hashed byte by byte.
 */
export function readRequest(msg: Buffer, req: WireRequest): ReadResult {
  const length = msg.length;
  if (length < HEADER_LENGTH) return ReadResult.DROP;
  const flags = (msg[2]! << 8) | msg[3]!;
  if ((flags & Flag.QR) !== 0) return ReadResult.DROP;
  req.msg = msg;
  req.id = (msg[0]! << 8) | msg[1]!;
  req.flags = flags;
  req.questionEnd = 0;
  req.questionLength = 0;
  req.edns = false;
  req.ednsVersion = 0;
  req.udpSize = CLASSIC_UDP_SIZE;
  req.dnssecOk = false;
  if ((flags & OPCODE_MASK) !== 0) return ReadResult.NOTIMP;
  if (((msg[4]! << 8) | msg[5]!) !== 1) return formErr(msg, req);

  // Question name: plain labels only (a query has nothing earlier to point at).
  const out = req.question;
  let pos = HEADER_LENGTH;
  let o = 0;
  let h1 = FNV_OFFSET;
  let h2 = 0x9e3779b1;
  for (;;) {
    if (pos >= length) return formErr(msg, req);
    const labelLength = msg[pos]!;
    if (labelLength > MAX_LABEL_LENGTH) return formErr(msg, req);
    if (o + labelLength + 1 > MAX_NAME_LENGTH || pos + labelLength + 1 > length) return formErr(msg, req);
    out[o++] = labelLength;
    h1 = Math.imul(h1 ^ labelLength, FNV_PRIME);
    h2 = Math.imul(h2 ^ labelLength, 0x85ebca6b);
    pos++;
    if (labelLength === 0) break;
    const end = pos + labelLength;
    while (pos < end) {
      let c = msg[pos++]!;
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      out[o++] = c;
      h1 = Math.imul(h1 ^ c, FNV_PRIME);
      h2 = Math.imul(h2 ^ c, 0x85ebca6b);
    }
  }
  if (pos + 4 > length) return formErr(msg, req);
  for (let i = 0; i < 4; i++) {
    const c = msg[pos + i]!;
    out[o++] = c;
    h1 = Math.imul(h1 ^ c, FNV_PRIME);
    h2 = Math.imul(h2 ^ c, 0x85ebca6b);
  }
  req.qtype = (msg[pos]! << 8) | msg[pos + 1]!;
  req.qclass = (msg[pos + 2]! << 8) | msg[pos + 3]!;
  pos += 4;
  req.questionEnd = pos;
  req.questionLength = o;

  // Skip answer and authority records; look for exactly one OPT among the additional ones.
  const ancount = (msg[6]! << 8) | msg[7]!;
  const nscount = (msg[8]! << 8) | msg[9]!;
  const arcount = (msg[10]! << 8) | msg[11]!;
  const records = ancount + nscount + arcount;
  for (let i = 0; i < records; i++) {
    const start = pos;
    pos = skipName(msg, pos, length);
    if (pos < 0 || pos + 10 > length) return formErr(msg, req);
    const type = (msg[pos]! << 8) | msg[pos + 1]!;
    const rdlength = (msg[pos + 8]! << 8) | msg[pos + 9]!;
    if (type === RrType.OPT) {
      if (i < ancount + nscount || req.edns || msg[start] !== 0) return formErr(msg, req);
      readOpt(msg, pos, req);
    }
    pos += 10 + rdlength;
    if (pos > length) return formErr(msg, req);
  }

  const flagBits = (req.dnssecOk ? 2 : 0) | ((flags & Flag.CD) !== 0 ? 1 : 0);
  h1 = Math.imul(h1 ^ flagBits, FNV_PRIME);
  h2 = Math.imul(h2 ^ flagBits, 0x85ebca6b);
  h2 ^= h2 >>> 15;
  req.key = (h1 >>> 0) * 0x200000 + (h2 >>> 11);

  if (req.ednsVersion !== 0) return ReadResult.BADVERS;
  if (req.qtype === RrType.AXFR || req.qtype === RrType.IXFR) return ReadResult.REFUSED;
  return ReadResult.OK;
}

/**
 * A request that is malformed but carries an OPT record gets its FORMERR with an OPT record
 * too (RFC 6891 §7): the OPT record is looked for as far as the message can be walked
 * (questions and records with sound lengths); where it cannot, the reply has none.
 */
function formErr(msg: Buffer, req: WireRequest): ReadResult {
  const length = msg.length;
  let pos = HEADER_LENGTH;
  for (let i = (msg[4]! << 8) | msg[5]!; i > 0; i--) {
    pos = skipName(msg, pos, length);
    if (pos < 0 || pos + 4 > length) return ReadResult.FORMERR;
    pos += 4;
  }
  const records = ((msg[6]! << 8) | msg[7]!) + ((msg[8]! << 8) | msg[9]!) + ((msg[10]! << 8) | msg[11]!);
  for (let i = 0; i < records && !req.edns; i++) {
    const start = pos;
    pos = skipName(msg, pos, length);
    if (pos < 0 || pos + 10 > length) return ReadResult.FORMERR;
    if (msg[start] === 0 && ((msg[pos]! << 8) | msg[pos + 1]!) === RrType.OPT) readOpt(msg, pos, req);
    pos += 10 + ((msg[pos + 8]! << 8) | msg[pos + 9]!);
  }
  return ReadResult.FORMERR;
}

/** Takes the OPT record whose type field is at `pos`: EDNS on, its UDP size, version and DO bit. */
function readOpt(msg: Buffer, pos: number, req: WireRequest): void {
  req.edns = true;
  const size = (msg[pos + 2]! << 8) | msg[pos + 3]!;
  req.udpSize = size < CLASSIC_UDP_SIZE ? CLASSIC_UDP_SIZE : size;
  req.ednsVersion = msg[pos + 5]!;
  req.dnssecOk = (((msg[pos + 6]! << 8) | msg[pos + 7]!) & EDNS_DO) !== 0;
}

const NAME_SCRATCH = Buffer.alloc(MAX_NAME_LENGTH);

/** Presentation form of an uncompressed wire name (lower-case input stays lower-case). */
export function nameToString(wire: Buffer, offset: number): string {
  // Almost every name is plain (printable, no '.' or '\' inside a label): one latin1
  // decode of its bytes with the length octets turned into dots, instead of a string per byte.
  let out = 0;
  let plain = true;
  for (let pos = offset, len = wire[pos]!; len !== 0 && len !== undefined && plain; len = wire[pos]!) {
    if (out > 0) NAME_SCRATCH[out++] = 0x2e;
    for (let i = pos + 1; i <= pos + len; i++) {
      const c = wire[i]!;
      if (c <= 0x20 || c >= 0x7f || c === 0x2e || c === 0x5c || out >= NAME_SCRATCH.length) {
        plain = false;
        break;
      }
      NAME_SCRATCH[out++] = c;
    }
    pos += len + 1;
  }
  if (plain) return NAME_SCRATCH.toString('latin1', 0, out);
  return escapedName(wire, offset);
}

function escapedName(wire: Buffer, offset: number): string {
  let name = '';
  let pos = offset;
  for (let len = wire[pos]!; len !== 0 && len !== undefined; len = wire[pos]!) {
    if (name.length > 0) name += '.';
    name += escapeLabel(wire, pos + 1, pos + 1 + len);
    pos += len + 1;
  }
  return name;
}

function escapeLabel(wire: Buffer, start: number, end: number): string {
  let label = '';
  for (let i = start; i < end; i++) {
    const c = wire[i]!;
    if (c === 0x2e || c === 0x5c) label += '\\' + String.fromCharCode(c);
    else if (c > 0x20 && c < 0x7f) label += String.fromCharCode(c);
    else label += '\\' + String(c).padStart(3, '0');
  }
  return label;
}
