import { describe, expect, it } from 'vitest';
import { padReply, PADDING_BLOCK, smallestTtl } from '../../src/wire/encrypted-reply.js';
import { encodeResponse, soaRecord, TYPE } from '../support/packets.js';

describe('replies over encrypted transports', () => {
  it('pad a reply with EDNS to a multiple of 468 bytes with a padding option (RFC 7830, 8467)', () => {
    const reply = encodeResponse(7, 'a.example.nl', TYPE.A, [{ name: 'a.example.nl', type: TYPE.A, ttl: 60, address: '192.0.2.1' }], { edns: true });
    const padded = padReply(reply);
    expect(padded.length).toBe(PADDING_BLOCK);
    expect(padded.subarray(0, reply.length - 2)).toEqual(reply.subarray(0, reply.length - 2));
    // The OPT record's RDLENGTH grew by the option, which ends the message.
    expect(padded.readUInt16BE(reply.length - 2)).toBe(padded.length - reply.length);
    expect(padded.readUInt16BE(reply.length)).toBe(12);
    expect(padded.readUInt16BE(reply.length + 2)).toBe(padded.length - reply.length - 4);
    // Padded once only.
    expect(padReply(padded)).toBe(padded);
  });

  it('leave a reply without EDNS, or a malformed one, as it is', () => {
    const plain = encodeResponse(7, 'a.example.nl', TYPE.A, [{ name: 'a.example.nl', type: TYPE.A, ttl: 60, address: '192.0.2.1' }]);
    expect(padReply(plain)).toBe(plain);
    const cut = plain.subarray(0, plain.length - 3);
    expect(padReply(cut)).toBe(cut);
  });

  it("give the smallest TTL of answers and authority (a negative answer's SOA), 0 for none", () => {
    const two = encodeResponse(1, 'm.example.nl', TYPE.A, [
      { name: 'm.example.nl', type: TYPE.A, ttl: 300, address: '192.0.2.1' },
      { name: 'm.example.nl', type: TYPE.A, ttl: 90, address: '192.0.2.2' },
    ], { edns: true });
    expect(smallestTtl(two)).toBe(90);
    const negative = encodeResponse(1, 'x.example.nl', TYPE.A, [], { rcode: 3, authorities: [soaRecord(120, 60)] });
    expect(smallestTtl(negative)).toBe(120);
    expect(smallestTtl(encodeResponse(1, 'x.example.nl', TYPE.A, []))).toBe(0);
  });
});
