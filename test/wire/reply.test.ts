import { describe, expect, it } from 'vitest';
import { Answer, BlockedAnswer, LocalAnswer, scanResponse } from '../../src/wire/answer.js';
import { EdeCode, Rcode } from '../../src/wire/constants.js';
import { ReplyWriter } from '../../src/wire/reply.js';
import { WireRequest, readRequest } from '../../src/wire/request.js';
import { encodeQuery, encodeResponse, TYPE, type QueryOptions } from '../support/packets.js';

const writer = new ReplyWriter({ minTtl: 0, maxTtl: 3600, udpSize: 1232 });

function request(name: string, type: number, options: QueryOptions = {}): WireRequest {
  const req = new WireRequest();
  readRequest(encodeQuery(name, type, options), req);
  return req;
}

function answerFor(req: WireRequest, ttl = 300, count = 1): Answer {
  const records = Array.from({ length: count }, (_, i) => ({ name: 'www.example.nl', type: TYPE.A, ttl, address: `192.0.2.${i + 1}` }));
  return scanResponse(encodeResponse(99, 'www.example.nl', TYPE.A, records), 99, req.question, req.questionLength, 1232).answer!;
}

describe('ReplyWriter', () => {
  it("patches the client's ID, its spelling of the question and aged TTLs", () => {
    const req = request('WwW.ExAmple.nl', TYPE.A, { id: 0x4242 });
    const out = writer.write(req, answerFor(req), 7, -1, 1232);
    expect(out.readUInt16BE(0)).toBe(0x4242);
    expect(out.subarray(12, req.questionEnd)).toEqual(req.msg.subarray(12, req.questionEnd));
    expect(out.readUInt32BE(answerFor(req).ttlOffsetAt(0))).toBe(293);
    expect(out.readUInt16BE(2) & 0x0080).toBe(0x0080); // RA
  });

  it("clears the upstream's AA flag", () => {
    const req = request('www.example.nl', TYPE.A);
    const answer = answerFor(req);
    answer.bytes[answer.start + 2]! |= 0x04; // AA, as an authoritative upstream sets it
    expect(writer.write(req, answer, 0, -1, 1232).readUInt16BE(2) & 0x0400).toBe(0);
  });

  it('never serves a negative TTL and applies serve-stale fixed TTLs', () => {
    const req = request('www.example.nl', TYPE.A);
    const answer = answerFor(req, 5);
    expect(writer.write(req, answer, 60, -1, 1232).readUInt32BE(answer.ttlOffsetAt(0))).toBe(0);
    expect(writer.write(req, answer, 60, 30, 1232).readUInt32BE(answer.ttlOffsetAt(0))).toBe(30);
  });

  it('adds Extended DNS Error 3 (Stale Answer) to the OPT record of a stale reply', () => {
    const req = request('www.example.nl', TYPE.A);
    const answer = answerFor(req, 5);
    const out = writer.write(req, answer, 60, 30, 1232);
    expect(out.length).toBe(answer.length + 6);
    const opt = answer.optOffset;
    expect(out.readUInt16BE(opt + 1)).toBe(TYPE.EDNS);
    expect(out.readUInt16BE(opt + 9)).toBe(6);
    expect([...out.subarray(opt + 11)]).toEqual([0, 15, 0, 2, 0, EdeCode.STALE_ANSWER]);
    // Fresh replies and clients without EDNS get none; a stale reply that no longer fits is truncated.
    expect(writer.write(req, answer, 0, -1, 1232).length).toBe(answer.length);
    expect(writer.write(request('www.example.nl', TYPE.A, { edns: null }), answer, 60, 30, 512).length).toBe(answer.optOffset);
    expect(writer.write(req, answer, 60, 30, answer.length + 5).readUInt16BE(2) & 0x0200).toBe(0x0200);
  });

  it('writes in place the bytes write() makes, and nothing where they would not fit', () => {
    const cases = [
      { req: request('WwW.ExAmple.nl', TYPE.A, { id: 0x4242 }), age: 7, fixedTtl: -1 },
      { req: request('www.example.nl', TYPE.A, { id: 7 }), age: 60, fixedTtl: 30 }, // stale: an EDE added
      { req: request('www.example.nl', TYPE.A, { id: 9, edns: null }), age: 0, fixedTtl: -1 }, // OPT stripped
    ];
    for (const { req, age, fixedTtl } of cases) {
      const answer = answerFor(req, 300, 3);
      const expected = writer.write(req, answer, age, fixedTtl, 1232);
      const slots = Buffer.alloc(1000, 0xee);
      const length = writer.writeInto(req, answer, age, fixedTtl, 1232, slots, 100, 900);
      expect(length).toBe(expected.length);
      expect(slots.subarray(100, 100 + length)).toEqual(expected);
      expect(slots.subarray(0, 100).every((byte) => byte === 0xee) && slots.subarray(100 + length).every((byte) => byte === 0xee)).toBe(true);
      // Too little room, or over the client's limit (write() truncates it instead): nothing written.
      const untouched = Buffer.alloc(1000, 0xee);
      expect(writer.writeInto(req, answer, age, fixedTtl, 1232, untouched, 100, length - 1)).toBe(-1);
      expect(writer.writeInto(req, answer, age, fixedTtl, length - 1, untouched, 100, 900)).toBe(-1);
      expect(untouched.every((byte) => byte === 0xee)).toBe(true);
    }
  });

  it('writes answers made here in place too, byte for byte what write() makes, into slots that held other bytes', () => {
    const nxdomain = new BlockedAnswer('nxdomain', 60, 'blocked by wachtpost: app:tiktok');
    const sinkhole = new BlockedAnswer('sinkhole', 60, 'blocked by wachtpost: app:tiktok', Buffer.from([192, 0, 2, 1]), null);
    const cases = [
      { req: request('www.example.nl', TYPE.A, { id: 1 }), answer: Answer.synthetic(Rcode.SERVFAIL, EdeCode.OTHER, 'internal error') },
      { req: request('www.example.nl', TYPE.A, { id: 2, edns: null }), answer: Answer.synthetic(Rcode.REFUSED) },
      { req: request('Api.TikTokV.com', TYPE.A, { id: 3 }), answer: nxdomain },
      { req: request('api.tiktokv.com', TYPE.A, { id: 4, edns: null }), answer: nxdomain },
      { req: request('api.tiktokv.com', TYPE.A, { id: 5 }), answer: sinkhole },
      { req: request('api.tiktokv.com', TYPE.AAAA, { id: 6 }), answer: sinkhole }, // no IPv6 sinkhole: NODATA + SOA
      { req: request('api.tiktokv.com', TYPE.A, { id: 7 }), answer: new BlockedAnswer('refused', 60, 'blocked by wachtpost: app:tiktok') },
      { req: request('id.server', TYPE.TXT, { id: 8 }), answer: new LocalAnswer(Rcode.NOERROR, Buffer.from([0xc0, 0x0c, 0, 16, 0, 3, 0, 0, 0, 0, 0, 3, 2, 0x68, 0x69]), 1) },
    ];
    for (const { req, answer } of cases) {
      const expected = writer.write(req, answer, 0, -1, 1232);
      const slots = Buffer.alloc(1000, 0xee);
      const length = writer.writeInto(req, answer, 0, -1, 1232, slots, 100, 900);
      expect(slots.subarray(100, 100 + length)).toEqual(expected);
      expect(slots.subarray(0, 100).every((byte) => byte === 0xee) && slots.subarray(100 + length).every((byte) => byte === 0xee)).toBe(true);
      const untouched = Buffer.alloc(1000, 0xee);
      expect(writer.writeInto(req, answer, 0, -1, 1232, untouched, 100, length - 1)).toBe(-1);
      expect(untouched.every((byte) => byte === 0xee)).toBe(true);
    }
  });

  it('strips the OPT record for clients that sent none', () => {
    const plain = request('www.example.nl', TYPE.A, { edns: null });
    const answer = answerFor(plain);
    const out = writer.write(plain, answer, 0, -1, 512);
    expect(out.length).toBe(answer.optOffset);
    expect(out.readUInt16BE(10)).toBe(0);
  });

  it('truncates to header + question + OPT with TC when the answer does not fit', () => {
    const req = request('www.example.nl', TYPE.A, { edns: { udp: 512 } });
    const answer = answerFor(req, 300, 40);
    expect(answer.wire.length).toBeGreaterThan(512);
    const out = writer.write(req, answer, 0, -1, writer.udpLimit(req));
    expect(out.readUInt16BE(2) & 0x0200).toBe(0x0200);
    expect(out.readUInt16BE(6)).toBe(0);
    expect(out.length).toBe(req.questionEnd + 11);
  });

  it('caps the UDP limit at our size and honours smaller client sizes', () => {
    expect(writer.udpLimit(request('a.nl', TYPE.A, { edns: { udp: 4096 } }))).toBe(1232);
    expect(writer.udpLimit(request('a.nl', TYPE.A, { edns: { udp: 800 } }))).toBe(800);
    expect(writer.udpLimit(request('a.nl', TYPE.A, { edns: null }))).toBe(512);
  });

  it('writes synthetic errors with an Extended DNS Error for EDNS clients', () => {
    const req = request('a.nl', TYPE.A, { id: 5 });
    const out = writer.write(req, Answer.synthetic(Rcode.REFUSED, EdeCode.PROHIBITED, 'no'), 0, -1, 1232);
    expect(out.readUInt16BE(0)).toBe(5);
    expect(out.readUInt16BE(2) & 0xf).toBe(Rcode.REFUSED);
    const opt = req.questionEnd;
    expect(out.readUInt16BE(opt + 1)).toBe(41);
    expect(out.readUInt16BE(opt + 11)).toBe(15); // EDE option code
    expect(out.readUInt16BE(opt + 15)).toBe(EdeCode.PROHIBITED);
    expect(out.subarray(opt + 17).toString()).toBe('no');
  });

  it('expresses BADVERS through the OPT extended rcode', () => {
    const req = request('a.nl', TYPE.A);
    const out = writer.synthetic(req, Rcode.BADVERS, 0, -1, null);
    expect(out.readUInt16BE(2) & 0xf).toBe(0);
    expect(out[req.questionEnd + 5]).toBe(1);
  });
});
