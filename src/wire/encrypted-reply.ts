import { HEADER_LENGTH, RrType } from './constants.js';
import { skipName } from './names.js';

/** RFC 8467's recommended block: responses padded to a multiple of 468 bytes. */
export const PADDING_BLOCK = 468;
const OPTION_PADDING = 12;

/** Where a reply's records are: the answer and authority TTL minimum, and the OPT record if it is last. */
interface ReplyLayout {
  /** Smallest TTL of the answer and authority records; -1 when there are none. */
  minTtl: number;
  /** Offset of the last record's RDLENGTH when that record is the OPT record, else -1. */
  optRdlength: number;
  /** Whether the OPT record already carries a padding option. */
  padded: boolean;
}

/** Walks a reply written by the responder (so well formed); a malformed one gives no TTL and no OPT. */
function layoutOf(msg: Buffer): ReplyLayout {
  const layout: ReplyLayout = { minTtl: -1, optRdlength: -1, padded: false };
  if (msg.length < HEADER_LENGTH) return layout;
  const end = msg.length;
  let pos = HEADER_LENGTH;
  for (let q = msg.readUInt16BE(4); q > 0; q--) {
    pos = skipName(msg, pos, end);
    if (pos < 0 || pos + 4 > end) return layout;
    pos += 4;
  }
  const ttlRecords = msg.readUInt16BE(6) + msg.readUInt16BE(8);
  const records = ttlRecords + msg.readUInt16BE(10);
  for (let i = 0; i < records; i++) {
    pos = skipName(msg, pos, end);
    if (pos < 0 || pos + 10 > end) return { minTtl: -1, optRdlength: -1, padded: false };
    const type = msg.readUInt16BE(pos);
    const rdlength = msg.readUInt16BE(pos + 8);
    if (i < ttlRecords) {
      const ttl = msg.readUInt32BE(pos + 4);
      if (layout.minTtl < 0 || ttl < layout.minTtl) layout.minTtl = ttl;
    }
    const rdata = pos + 10;
    if (rdata + rdlength > end) return { minTtl: -1, optRdlength: -1, padded: false };
    if (i === records - 1 && type === RrType.OPT) {
      layout.optRdlength = pos + 8;
      for (let o = rdata; o + 4 <= rdata + rdlength; o += 4 + msg.readUInt16BE(o + 2)) {
        if (msg.readUInt16BE(o) === OPTION_PADDING) layout.padded = true;
      }
    }
    pos = rdata + rdlength;
  }
  return layout;
}

/**
 * The smallest TTL of a reply's answer and authority records (RFC 8484 §5.1: a DoH
 * response's freshness must not outlive it; for a negative answer that is the SOA's), or 0
 * when it has none.
 */
export function smallestTtl(msg: Buffer): number {
  return Math.max(0, layoutOf(msg).minTtl);
}

/**
 * The reply with an EDNS Padding option (RFC 7830) that makes its length a multiple of
 * 468 bytes (RFC 8467), so its size says little about the name. Only replies that carry
 * EDNS (the query had it), as their last record, and are not padded yet; others unchanged.
 */
export function padReply(msg: Buffer): Buffer {
  const layout = layoutOf(msg);
  if (layout.optRdlength < 0 || layout.padded) return msg;
  const unpadded = msg.length + 4;
  const total = Math.ceil(unpadded / PADDING_BLOCK) * PADDING_BLOCK;
  if (total > 65_535) return msg;
  const out = Buffer.alloc(total);
  msg.copy(out, 0);
  out.writeUInt16BE(msg.readUInt16BE(layout.optRdlength) + total - msg.length, layout.optRdlength);
  out.writeUInt16BE(OPTION_PADDING, msg.length);
  out.writeUInt16BE(total - unpadded, msg.length + 2);
  return out;
}
