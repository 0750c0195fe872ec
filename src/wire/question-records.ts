import { RrClass, RrType } from './constants.js';

/** Owner name of every record made here: a pointer to the question's name. */
const POINTER_TO_QUESTION = 0xc00c;
/** SOA of block answers: a name under .invalid (RFC 6761) so it can never collide with a real zone. */
const BLOCK_SOA_NAMES = Buffer.from('\x09wachtpost\x07invalid\x00\x0ahostmaster\x09wachtpost\x07invalid\x00', 'latin1');

/** A record owned by the question's name, for answers made here (blocks, the CHAOS identity, DDR). */
export function recordAtQuestion(type: number, rrClass: number, ttl: number, rdata: Buffer): Buffer {
  const record = Buffer.alloc(12 + rdata.length);
  record.writeUInt16BE(POINTER_TO_QUESTION, 0);
  record.writeUInt16BE(type, 2);
  record.writeUInt16BE(rrClass, 4);
  record.writeUInt32BE(ttl, 6);
  record.writeUInt16BE(rdata.length, 10);
  rdata.copy(record, 12);
  return record;
}

/** The SOA of an NXDOMAIN or NODATA block: its MINIMUM is the block TTL, so clients cache the refusal (RFC 2308). */
export function blockSoaRecord(ttl: number): Buffer {
  const rdata = Buffer.alloc(BLOCK_SOA_NAMES.length + 20);
  BLOCK_SOA_NAMES.copy(rdata, 0);
  const numbers = BLOCK_SOA_NAMES.length;
  rdata.writeUInt32BE(1, numbers); // serial
  rdata.writeUInt32BE(3600, numbers + 4); // refresh
  rdata.writeUInt32BE(600, numbers + 8); // retry
  rdata.writeUInt32BE(86_400, numbers + 12); // expire
  rdata.writeUInt32BE(ttl, numbers + 16); // minimum: the negative-caching TTL
  return recordAtQuestion(RrType.SOA, RrClass.IN, ttl, rdata);
}
