import { Answer, AnswerKind, BlockedAnswer, LocalAnswer, writeOptHeader } from './answer.js';
import { EDNS_OPTION_EDE, EdeCode, Flag, HEADER_LENGTH, OPCODE_MASK, Rcode, RrType } from './constants.js';
import type { WireRequest } from './request.js';

export interface ReplySettings {
  /** Floor and ceiling applied to every TTL served (cache.min_ttl / cache.max_ttl). */
  minTtl: number;
  maxTtl: number;
  /** The EDNS0 UDP size we advertise and the most we send over UDP. */
  udpSize: number;
}

const OPT_LENGTH = 11;
const EDE_HEADER_LENGTH = 6;
/** Room for any reply made here: header, question, the records of a local or block answer, OPT and EDE. */
const MADE_HERE_ROOM = 65_535;
const ANSWER_FLAGS_FROM_CLIENT = Flag.RD | Flag.CD;

/** A client that sent no OPT record gets none back. */
function stripsOpt(req: WireRequest, answer: Answer): boolean {
  return !req.edns && answer.optOffset >= 0;
}

/** The Extended DNS Error a stale answer gains for an EDNS client: its bytes, or 0. */
function staleEdeLength(req: WireRequest, answer: Answer, fixedTtl: number): number {
  return fixedTtl >= 0 && req.edns && answer.optOffset >= 0 ? EDE_HEADER_LENGTH : 0;
}

/** Bytes of the reply write() makes of a stored answer. */
function replyLength(req: WireRequest, answer: Answer, fixedTtl: number): number {
  return (stripsOpt(req, answer) ? answer.optOffset : answer.length) + staleEdeLength(req, answer, fixedTtl);
}

/**
 * Turns a shared Answer into the bytes for one client: copy, then patch ID, flags, the
 * client's spelling of the question (0x20 case randomisation survives) and the TTLs.
 * Nothing is decoded or re-encoded.
 */
export class ReplyWriter {
  /** Where write() and synthetic() make a reply before copying it into a Buffer of its length. */
  private readonly scratch = Buffer.allocUnsafe(MADE_HERE_ROOM);

  constructor(private readonly settings: ReplySettings) {}

  /** The most a UDP reply to `req` may hold: the client's EDNS size, capped by ours. */
  udpLimit(req: WireRequest): number {
    if (!req.edns) return 512;
    return req.udpSize < this.settings.udpSize ? req.udpSize : this.settings.udpSize;
  }

  /**
   * @param ageSeconds how long the answer has been cached (0 when fresh)
   * @param fixedTtl serve every record with this TTL, or -1; set only for stale answers
   *   (RFC 8767), which EDNS clients get with Extended DNS Error 3 (Stale Answer)
   * @param maxLength over this the reply is truncated (TC=1), for UDP
   */
  write(req: WireRequest, answer: Answer, ageSeconds: number, fixedTtl: number, maxLength: number): Buffer {
    if (answer.kind >= AnswerKind.SYNTHETIC) return this.fromScratch(this.madeHere(req, answer, this.scratch, 0, MADE_HERE_ROOM));
    const length = replyLength(req, answer, fixedTtl);
    if (length > maxLength) return this.synthetic(req, answer.rcode, Flag.TC, -1, null);
    const out = Buffer.allocUnsafe(length);
    this.fill(req, answer, ageSeconds, fixedTtl, out, 0);
    return out;
  }

  /**
   * write() into `out` at `at`, where `room` bytes are free: the reply's length, or -1 with
   * nothing written for what write() makes otherwise (truncated replies) or what does not fit.
   */
  writeInto(req: WireRequest, answer: Answer, ageSeconds: number, fixedTtl: number, maxLength: number, out: Buffer, at: number, room: number): number {
    if (answer.kind >= AnswerKind.SYNTHETIC) return this.madeHere(req, answer, out, at, room);
    const length = replyLength(req, answer, fixedTtl);
    if (length > maxLength || length > room) return -1;
    this.fill(req, answer, ageSeconds, fixedTtl, out, at);
    return length;
  }

  /** Writes the reply write() describes at `at` of `out`, which has room for it. */
  private fill(req: WireRequest, answer: Answer, ageSeconds: number, fixedTtl: number, out: Buffer, at: number): void {
    const bytes = answer.bytes;
    const start = answer.start;
    const stripOpt = stripsOpt(req, answer);
    const staleEde = staleEdeLength(req, answer, fixedTtl);
    const body = stripOpt ? answer.optOffset : answer.length;
    bytes.copy(out, at, start, start + body);
    out[at] = req.id >>> 8;
    out[at + 1] = req.id & 0xff;
    // AA is the upstream's to claim, not ours: we answer as a recursive service.
    let flags = ((bytes[start + 2]! << 8) | bytes[start + 3]!) & ~(ANSWER_FLAGS_FROM_CLIENT | Flag.TC | Flag.AA);
    // RA: we are the recursive service, whatever the (possibly authoritative) upstream said.
    flags |= (req.flags & ANSWER_FLAGS_FROM_CLIENT) | Flag.RA;
    // RFC 6840 §5.8: AD only for clients that asked for DNSSEC (DO) or for AD itself.
    if (!req.dnssecOk && (req.flags & Flag.AD) === 0) flags &= ~Flag.AD;
    out[at + 2] = flags >>> 8;
    out[at + 3] = flags & 0xff;
    req.msg.copy(out, at + HEADER_LENGTH, HEADER_LENGTH, req.questionEnd);
    if (stripOpt) out.writeUInt16BE(((bytes[start + 10]! << 8) | bytes[start + 11]!) - 1, at + 10);

    const { minTtl, maxTtl } = this.settings;
    const count = answer.ttlCount;
    for (let i = 0; i < count; i++) {
      const field = answer.ttlOffsetAt(i);
      let ttl: number;
      if (fixedTtl >= 0) ttl = fixedTtl;
      else {
        ttl = answer.ttlIn(field);
        if (ttl < minTtl) ttl = minTtl;
        else if (ttl > maxTtl) ttl = maxTtl;
        ttl -= ageSeconds;
        if (ttl < 0) ttl = 0;
      }
      out.writeUInt32BE(ttl, at + field);
    }
    if (staleEde > 0) {
      // The OPT record is last: lengthen its RDATA by one option, written at the end.
      const rdlength = at + answer.optOffset + OPT_LENGTH - 2;
      out.writeUInt16BE(out.readUInt16BE(rdlength) + EDE_HEADER_LENGTH, rdlength);
      out.writeUInt16BE(EDNS_OPTION_EDE, at + body);
      out.writeUInt16BE(2, at + body + 2);
      out.writeUInt16BE(EdeCode.STALE_ANSWER, at + body + 4);
    }
  }

  /** Synthetic errors, policy blocks and local records, written here per client into `out` at `at`: the length, or -1 beyond `room`. */
  private madeHere(req: WireRequest, answer: Answer, out: Buffer, at: number, room: number): number {
    if (answer instanceof BlockedAnswer) return this.blocked(req, answer, out, at, room);
    if (answer instanceof LocalAnswer) return this.compose(req, answer.rcode, 0, -1, null, answer.records, answer.answerCount, 0, out, at, room);
    return this.compose(req, answer.rcode, 0, answer.edeCode, answer.edeText, null, 0, 0, out, at, room);
  }

  /**
   * A reply made here: the client's header and question, an rcode, and for EDNS clients an
   * OPT record (with an Extended DNS Error when given). Also used for truncated replies.
   */
  synthetic(req: WireRequest, rcode: number, extraFlags: number, edeCode: number, edeText: Buffer | null): Buffer {
    return this.fromScratch(this.compose(req, rcode, extraFlags, edeCode, edeText, null, 0, 0, this.scratch, 0, MADE_HERE_ROOM));
  }

  /** The reply made in the scratch buffer, as a Buffer of its own. */
  private fromScratch(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    this.scratch.copy(out, 0, 0, length);
    return out;
  }

  /**
   * A policy block for this client: NXDOMAIN with a SOA whose MINIMUM is the block TTL (so
   * clients cache the refusal, RFC 2308), a null or sinkhole address for A/AAAA (NODATA +
   * SOA for other types), or REFUSED; always with an Extended DNS Error 15 naming the rule.
   */
  private blocked(req: WireRequest, answer: BlockedAnswer, out: Buffer, at: number, room: number): number {
    if (answer.style === 'refused') return this.compose(req, Rcode.REFUSED, 0, answer.edeCode, answer.edeText, null, 0, 0, out, at, room);
    const address = req.qtype === RrType.A ? answer.ipv4Record : req.qtype === RrType.AAAA ? answer.ipv6Record : null;
    if (address !== null) return this.compose(req, answer.rcode, 0, answer.edeCode, answer.edeText, address, 1, 0, out, at, room);
    return this.compose(req, answer.rcode, 0, answer.edeCode, answer.edeText, answer.soaRecord, 0, 1, out, at, room);
  }

  /** Writes a reply made here at `at` of `out`: its length, or -1 with nothing written when longer than `room`. */
  private compose(
    req: WireRequest,
    rcode: number,
    extraFlags: number,
    edeCode: number,
    edeText: Buffer | null,
    records: Buffer | null,
    answerCount: number,
    authorityCount: number,
    out: Buffer,
    at: number,
    room: number,
  ): number {
    const questionLength = req.questionEnd > 0 ? req.questionEnd - HEADER_LENGTH : 0;
    const recordsLength = records === null ? 0 : records.length;
    const ede = req.edns && edeCode >= 0 ? EDE_HEADER_LENGTH + (edeText === null ? 0 : edeText.length) : 0;
    const optLength = req.edns ? OPT_LENGTH + ede : 0;
    const length = HEADER_LENGTH + questionLength + recordsLength + optLength;
    if (length > room) return -1;
    out[at] = req.id >>> 8;
    out[at + 1] = req.id & 0xff;
    const flags = Flag.QR | Flag.RA | (req.flags & (OPCODE_MASK | ANSWER_FLAGS_FROM_CLIENT)) | extraFlags | (rcode & 0xf);
    out.writeUInt16BE(flags, at + 2);
    out.writeUInt16BE(questionLength > 0 ? 1 : 0, at + 4);
    out.writeUInt16BE(answerCount, at + 6);
    out.writeUInt16BE(authorityCount, at + 8);
    out.writeUInt16BE(optLength > 0 ? 1 : 0, at + 10);
    if (questionLength > 0) req.msg.copy(out, at + HEADER_LENGTH, HEADER_LENGTH, req.questionEnd);
    if (records !== null) records.copy(out, at + HEADER_LENGTH + questionLength);
    if (optLength > 0) {
      const opt = at + HEADER_LENGTH + questionLength + recordsLength;
      writeOptHeader(out, opt, this.settings.udpSize, rcode >>> 4, req.dnssecOk, ede);
      if (ede > 0) {
        out.writeUInt16BE(EDNS_OPTION_EDE, opt + OPT_LENGTH);
        out.writeUInt16BE(ede - 4, opt + OPT_LENGTH + 2);
        out.writeUInt16BE(edeCode, opt + OPT_LENGTH + 4);
        if (edeText !== null) edeText.copy(out, opt + OPT_LENGTH + EDE_HEADER_LENGTH);
      }
    }
    return length;
  }
}
