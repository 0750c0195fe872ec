import { HEADER_LENGTH, MAX_NAME_LENGTH } from './constants.js';
import { skipName } from './names.js';

/** Compression pointers followed per name at most: a loop or a long chain ends the name. */
const MAX_POINTER_HOPS = 32;

/**
 * Presentation form of a possibly compressed name at `pos` (lower-case, no trailing dot), or
 * null when it is malformed. Pointers must point backwards and hop at most 32 times, so a
 * hostile message costs at most a few hundred byte reads per name. Slow path only: tagging
 * reads each upstream answer once.
 */
export function readName(msg: Buffer, pos: number): string | null {
  let name = '';
  let hops = 0;
  let length = 0;
  for (;;) {
    if (pos >= msg.length) return null;
    const label = msg[pos]!;
    if (label === 0) return name;
    if ((label & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length || ++hops > MAX_POINTER_HOPS) return null;
      const target = ((label & 0x3f) << 8) | msg[pos + 1]!;
      if (target >= pos) return null;
      pos = target;
      continue;
    }
    if ((label & 0xc0) !== 0 || pos + 1 + label > msg.length) return null;
    length += label + 1;
    if (length > MAX_NAME_LENGTH) return null;
    if (name.length > 0) name += '.';
    for (let i = pos + 1; i <= pos + label; i++) {
      let c = msg[i]!;
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      name += c === 0x2e || c === 0x5c ? `\\${String.fromCharCode(c)}` : c > 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\${String(c).padStart(3, '0')}`;
    }
    pos += label + 1;
  }
}

/** One resource record of the answer section, as offsets into the message. */
export interface RecordView {
  type: number;
  /** Offset of the owner name. */
  name: number;
  rdata: number;
  rdlength: number;
}

/**
 * Calls `visit` for every record of the answer section of a message already validated by
 * scanResponse (so record boundaries are trusted here).
 */
export function forEachAnswerRecord(msg: Buffer, visit: (record: RecordView) => void): void {
  const ancount = msg.readUInt16BE(6);
  let pos = skipName(msg, HEADER_LENGTH, msg.length) + 4;
  const record: RecordView = { type: 0, name: 0, rdata: 0, rdlength: 0 };
  for (let i = 0; i < ancount; i++) {
    record.name = pos;
    pos = skipName(msg, pos, msg.length);
    if (pos < 0) return;
    record.type = msg.readUInt16BE(pos);
    record.rdlength = msg.readUInt16BE(pos + 8);
    record.rdata = pos + 10;
    visit(record);
    pos = record.rdata + record.rdlength;
  }
}
