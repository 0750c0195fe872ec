import { describe, expect, it } from 'vitest';
import { nameToString, ReadResult, WireRequest, readRequest } from '../../src/wire/request.js';
import { encodeQuery, TYPE } from '../support/packets.js';

function read(msg: Buffer): { result: ReadResult; req: WireRequest } {
  const req = new WireRequest();
  return { result: readRequest(msg, req), req };
}

describe('readRequest', () => {
  it('reads header, question and EDNS of a well-formed query', () => {
    const { result, req } = read(encodeQuery('Www.Example.NL', TYPE.AAAA, { id: 0xbeef, edns: { udp: 4096, do: true } }));
    expect(result).toBe(ReadResult.OK);
    expect(req.id).toBe(0xbeef);
    expect(req.qtype).toBe(TYPE.AAAA);
    expect(req.qclass).toBe(1);
    expect(req.qname()).toBe('www.example.nl');
    expect(req.edns).toBe(true);
    expect(req.udpSize).toBe(4096);
    expect(req.dnssecOk).toBe(true);
  });

  it('gives the same key to names differing only in case, and different keys otherwise', () => {
    const key = (name: string, type: number = TYPE.A, edns: { do?: boolean } = {}) => read(encodeQuery(name, type, { edns })).req.key;
    expect(key('TikTok.com')).toBe(key('tiktok.com'));
    expect(key('tiktok.com')).not.toBe(key('tiktok.con'));
    expect(key('tiktok.com')).not.toBe(key('tiktok.com', TYPE.AAAA));
    expect(key('tiktok.com')).not.toBe(key('tiktok.com', TYPE.A, { do: true }));
    expect(Number.isSafeInteger(key('tiktok.com'))).toBe(true);
  });

  it('treats a query without OPT as a classic 512-byte client', () => {
    const { result, req } = read(encodeQuery('a.nl', TYPE.A, { edns: null }));
    expect(result).toBe(ReadResult.OK);
    expect(req.edns).toBe(false);
    expect(req.udpSize).toBe(512);
  });

  it('drops what is shorter than a header and anything with QR set', () => {
    expect(read(Buffer.alloc(11)).result).toBe(ReadResult.DROP);
    const response = encodeQuery('a.nl', TYPE.A);
    response[2]! |= 0x80;
    expect(read(response).result).toBe(ReadResult.DROP);
  });

  it('answers FORMERR for a readable header with a broken body', () => {
    const good = encodeQuery('abc.nl', TYPE.A, { edns: null });
    expect(read(good.subarray(0, good.length - 3)).result).toBe(ReadResult.FORMERR);
    const pointer = Buffer.from(good);
    pointer[12] = 0xc0; // a compression pointer in a question
    expect(read(pointer).result).toBe(ReadResult.FORMERR);
    const noQuestion = Buffer.from(good);
    noQuestion[5] = 0;
    expect(read(noQuestion).result).toBe(ReadResult.FORMERR);
    const twoOpts = Buffer.concat([encodeQuery('a.nl', TYPE.A), Buffer.from('0000290200000000000000', 'hex')]);
    twoOpts[11] = 2;
    expect(read(twoOpts).result).toBe(ReadResult.FORMERR);
  });

  it('finds the OPT record of a malformed request where the message can be walked, for its FORMERR', () => {
    const one = encodeQuery('a.nl', TYPE.A, { edns: { udp: 4000, do: true } });
    const question = one.subarray(12, 12 + 10);
    const twoQuestions = Buffer.concat([one.subarray(0, 12), question, question, one.subarray(12 + 10)]);
    twoQuestions.writeUInt16BE(2, 4);
    const outcome = read(twoQuestions);
    expect(outcome.result).toBe(ReadResult.FORMERR);
    expect(outcome.req.edns).toBe(true);
    expect(outcome.req.udpSize).toBe(4000);
    expect(outcome.req.dnssecOk).toBe(true);
    const cut = encodeQuery('a.nl', TYPE.A, { edns: { udp: 4000 } });
    const truncated = cut.subarray(0, cut.length - 1);
    expect(read(truncated).req.edns).toBe(false);
  });

  it('refuses other opcodes, zone transfers and unknown EDNS versions distinctly', () => {
    expect(read(encodeQuery('a.nl', TYPE.A, { flags: { opcode: 2 } })).result).toBe(ReadResult.NOTIMP);
    expect(read(encodeQuery('a.nl', 252)).result).toBe(ReadResult.REFUSED);
    expect(read(encodeQuery('a.nl', TYPE.A, { edns: { version: 1 } })).result).toBe(ReadResult.BADVERS);
  });

  it('rejects names longer than 255 octets', () => {
    const label = 'a'.repeat(63);
    const longest = encodeQuery([label, label, label, 'a'.repeat(61)].join('.'), TYPE.A, { edns: null });
    expect(read(longest).result).toBe(ReadResult.OK);
    // dns2 will not encode an over-long name, so grow the longest one by a label by hand.
    const overlong = Buffer.concat([longest.subarray(0, 12), Buffer.from([1, 0x61]), longest.subarray(12)]);
    expect(read(overlong).result).toBe(ReadResult.FORMERR);
  });
});

describe('nameToString', () => {
  const wire = (...labels: (string | number[])[]) =>
    Buffer.concat([...labels.map((label) => Buffer.from([label.length, ...(typeof label === 'string' ? Buffer.from(label, 'latin1') : label)])), Buffer.from([0])]);

  it('writes plain names as they are, and the root as an empty string', () => {
    expect(nameToString(wire('api16-normal-c-useast1a', 'tiktokv', 'com'), 0)).toBe('api16-normal-c-useast1a.tiktokv.com');
    expect(nameToString(Buffer.from([0]), 0)).toBe('');
  });

  it('escapes dots and backslashes inside labels and bytes that are not printable (RFC 1035 §5.1)', () => {
    expect(nameToString(wire('a.b', 'c\\d', [0x07, 0x41], [0x20, 0xff], 'nl'), 0)).toBe('a\\.b.c\\\\d.\\007A.\\032\\255.nl');
  });

  it('reads from an offset', () => {
    expect(nameToString(Buffer.concat([Buffer.from([9, 9]), wire('x', 'example')]), 2)).toBe('x.example');
  });
});
