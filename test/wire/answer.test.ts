import { describe, expect, it } from 'vitest';
import { AnswerKind, ScanResult, scanResponse } from '../../src/wire/answer.js';
import { WireRequest, readRequest } from '../../src/wire/request.js';
import { encodeQuery, encodeResponse, TYPE } from '../support/packets.js';

function question(name: string, type: number): WireRequest {
  const req = new WireRequest();
  readRequest(encodeQuery(name, type, { edns: null }), req);
  return req;
}

const soa = {
  name: 'example.nl',
  type: TYPE.SOA,
  class: 1,
  ttl: 600,
  primary: 'ns.example.nl',
  admin: 'hostmaster.example.nl',
  serial: 1,
  refresh: 3600,
  retry: 600,
  expiration: 86400,
  minimum: 60,
};

describe('scanResponse', () => {
  it('accepts the answer to our question and records every TTL offset', () => {
    const req = question('www.example.nl', TYPE.A);
    const msg = encodeResponse(7, 'WWW.example.NL', TYPE.A, [
      { name: 'www.example.nl', type: TYPE.CNAME, ttl: 300, domain: 'web.example.nl' },
      { name: 'web.example.nl', type: TYPE.A, ttl: 120, address: '192.0.2.1' },
    ]);
    const { result, answer } = scanResponse(msg, 7, req.question, req.questionLength, 1232);
    expect(result).toBe(ScanResult.OK);
    expect(answer!.kind).toBe(AnswerKind.POSITIVE);
    expect(answer!.ttl).toBe(120);
    expect(answer!.ttlCount).toBe(2);
    expect([answer!.ttlAt(0), answer!.ttlAt(1)]).toEqual([300, 120]);
    for (let i = 0; i < answer!.ttlCount; i++) {
      expect(answer!.wire.readUInt32BE(answer!.ttlOffsetAt(i))).toBe(answer!.ttlAt(i));
    }
    // Records are carried byte for byte; an OPT with our size is appended last.
    expect(answer!.wire.subarray(12, msg.length)).toEqual(msg.subarray(12));
    expect(answer!.optOffset).toBe(msg.length);
    expect(answer!.wire.readUInt16BE(answer!.optOffset + 3)).toBe(1232);
  });

  it('rejects a wrong ID, a wrong question and a query packet', () => {
    const req = question('www.example.nl', TYPE.A);
    const rec = [{ name: 'www.example.nl', type: TYPE.A, ttl: 5, address: '192.0.2.1' }];
    expect(scanResponse(encodeResponse(8, 'www.example.nl', TYPE.A, rec), 7, req.question, req.questionLength, 1232).result).toBe(
      ScanResult.WRONG_ID,
    );
    expect(scanResponse(encodeResponse(7, 'www.example.com', TYPE.A, rec), 7, req.question, req.questionLength, 1232).result).toBe(
      ScanResult.WRONG_QUESTION,
    );
    expect(scanResponse(encodeResponse(7, 'www.example.nl', TYPE.AAAA, rec), 7, req.question, req.questionLength, 1232).result).toBe(
      ScanResult.WRONG_QUESTION,
    );
    const notResponse = encodeResponse(7, 'www.example.nl', TYPE.A, rec);
    notResponse[2]! &= 0x7f;
    expect(scanResponse(notResponse, 7, req.question, req.questionLength, 1232).result).toBe(ScanResult.NOT_A_RESPONSE);
  });

  it('reports truncation and malformed bodies', () => {
    const req = question('www.example.nl', TYPE.A);
    const rec = [{ name: 'www.example.nl', type: TYPE.A, ttl: 5, address: '192.0.2.1' }];
    const tc = encodeResponse(7, 'www.example.nl', TYPE.A, rec, { tc: true });
    expect(scanResponse(tc, 7, req.question, req.questionLength, 1232).result).toBe(ScanResult.TRUNCATED);
    const full = encodeResponse(7, 'www.example.nl', TYPE.A, rec);
    expect(scanResponse(full.subarray(0, full.length - 2), 7, req.question, req.questionLength, 1232).result).toBe(
      ScanResult.MALFORMED,
    );
  });

  it('derives the negative TTL from the SOA (RFC 2308) and refuses to cache without one', () => {
    const req = question('nope.example.nl', TYPE.A);
    const nx = encodeResponse(7, 'nope.example.nl', TYPE.A, [], { rcode: 3, authorities: [soa] });
    const withSoa = scanResponse(nx, 7, req.question, req.questionLength, 1232).answer!;
    expect(withSoa.kind).toBe(AnswerKind.NEGATIVE);
    expect(withSoa.ttl).toBe(60);
    const bare = scanResponse(encodeResponse(7, 'nope.example.nl', TYPE.A, [], { rcode: 3 }), 7, req.question, req.questionLength, 1232);
    expect(bare.answer!.ttl).toBe(0);
    const servfail = scanResponse(encodeResponse(7, 'nope.example.nl', TYPE.A, [], { rcode: 2 }), 7, req.question, req.questionLength, 1232);
    expect(servfail.answer!.kind).toBe(AnswerKind.UNCACHEABLE);
  });

  it('reads a TTL with the top bit set as zero (RFC 2181 §8)', () => {
    const req = question('www.example.nl', TYPE.A);
    const msg = encodeResponse(7, 'www.example.nl', TYPE.A, [{ name: 'www.example.nl', type: TYPE.A, ttl: 100, address: '192.0.2.1' }]);
    const offset = msg.length - 10;
    msg.writeUInt32BE(0x80000001, offset);
    const { answer } = scanResponse(msg, 7, req.question, req.questionLength, 1232);
    expect(answer!.ttlAt(0)).toBe(0);
    expect(answer!.ttl).toBe(0);
  });

  it('keeps the upstream OPT last and replaces it with ours', () => {
    const req = question('www.example.nl', TYPE.A);
    const msg = encodeResponse(7, 'www.example.nl', TYPE.A, [{ name: 'www.example.nl', type: TYPE.A, ttl: 100, address: '192.0.2.1' }], {
      edns: true,
    });
    const { answer } = scanResponse(msg, 7, req.question, req.questionLength, 1232);
    expect(answer!.wire.length).toBe(msg.length);
    expect(answer!.wire.readUInt16BE(answer!.optOffset + 3)).toBe(1232);
    expect(answer!.wire.readUInt16BE(10)).toBe(1);
  });
});
