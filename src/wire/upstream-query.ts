import { writeOptHeader } from './answer.js';
import { Flag, HEADER_LENGTH } from './constants.js';
import type { WireRequest } from './request.js';

const OPT_LENGTH = 11;

/**
 * The query we send upstream for `req`: our own ID, RD set, the client's CD bit, the
 * lower-cased question and an OPT advertising our UDP size with the client's DO bit.
 * Never the client's bytes: its ID, cookies and options are not the upstream's business.
 */
export function buildUpstreamQuery(req: WireRequest, id: number, udpSize: number): Buffer {
  const out = Buffer.alloc(HEADER_LENGTH + req.questionLength + OPT_LENGTH);
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(Flag.RD | (req.flags & Flag.CD), 2);
  out[5] = 1;
  out[11] = 1;
  req.question.copy(out, HEADER_LENGTH, 0, req.questionLength);
  writeOptHeader(out, HEADER_LENGTH + req.questionLength, udpSize, 0, req.dnssecOk, 0);
  return out;
}

/** Gives an upstream query a new ID (retries must not reuse one an attacker may have seen). */
export function setQueryId(query: Buffer, id: number): void {
  query.writeUInt16BE(id, 0);
}
