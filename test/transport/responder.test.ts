import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { DnsError } from '../../src/pipeline/dns-error.js';
import { Query, type ReplyChannel } from '../../src/pipeline/query.js';
import { Responder } from '../../src/transport/responder.js';
import { UpstreamFailure } from '../../src/upstream/errors.js';
import { Answer, AnswerKind, scanResponse } from '../../src/wire/answer.js';
import { EdeCode, Rcode } from '../../src/wire/constants.js';
import { ReplyWriter } from '../../src/wire/reply.js';
import { readRequest } from '../../src/wire/request.js';
import { encodeQuery, encodeResponse, TYPE } from '../support/packets.js';

/** The Extended DNS Error option (RFC 8914) as it appears on the wire. */
function edeOption(code: number, text: string): Buffer {
  const option = Buffer.alloc(6 + text.length);
  option.writeUInt16BE(15, 0);
  option.writeUInt16BE(2 + text.length, 2);
  option.writeUInt16BE(code, 4);
  option.write(text, 6, 'utf8');
  return option;
}

function failWith(error: unknown): { reply: Buffer; responder: Responder; logged: string[] } {
  const logged: string[] = [];
  const responder = new Responder(new ReplyWriter({ minTtl: 0, maxTtl: 86_400, udpSize: 1232 }), pino({ level: 'error' }, { write: (line: string) => logged.push(line) }));
  const replies: Buffer[] = [];
  const channel: ReplyChannel = { protocol: 'udp', send: (_query, reply) => replies.push(reply) };
  const query = new Query();
  readRequest(encodeQuery('www.example.nl', TYPE.A, { id: 0x1234 }), query);
  query.channel = channel;
  responder.fail(query, error);
  return { reply: replies[0]!, responder, logged };
}

describe('Responder.fail', () => {
  it("answers a DnsError with its own rcode and Extended DNS Error, without logging it as a fault", () => {
    const { reply, responder, logged } = failWith(new DnsError('client may not ask', Rcode.REFUSED, EdeCode.PROHIBITED, Buffer.from('prohibited')));
    expect(reply.readUInt16BE(0)).toBe(0x1234);
    expect(reply.readUInt16BE(2) & 0x000f).toBe(Rcode.REFUSED);
    expect(reply.includes(edeOption(EdeCode.PROHIBITED, 'prohibited'))).toBe(true);
    expect(responder.counters.byRcode[Rcode.REFUSED]).toBe(1);
    expect([responder.counters.internalErrors, logged.length]).toEqual([0, 0]);
  });

  it('answers an upstream failure SERVFAIL with EDE 22 and a text that names no server', () => {
    const { reply } = failWith(new UpstreamFailure('no upstream answered within 2000 ms (192.0.2.53: timeout)'));
    expect(reply.readUInt16BE(2) & 0x000f).toBe(Rcode.SERVFAIL);
    expect(reply.includes(edeOption(EdeCode.NO_REACHABLE_AUTHORITY, 'no upstream answered in time'))).toBe(true);
    expect(reply.includes(Buffer.from('192.0.2.53'))).toBe(false);
  });

  it('answers any other exception SERVFAIL with EDE 0, counts and logs it as a fault', () => {
    const { reply, responder, logged } = failWith(new TypeError('a bug'));
    expect(reply.readUInt16BE(2) & 0x000f).toBe(Rcode.SERVFAIL);
    expect(reply.includes(edeOption(EdeCode.OTHER, 'internal error'))).toBe(true);
    expect(responder.counters.internalErrors).toBe(1);
    expect(logged.join('')).toContain('query failed inside the resolver');
  });
});

describe('Responder.answer into send slots', () => {
  /** A channel lending two 64-byte slots, or none when `full`; what it sent, by either way. */
  function slotChannel(full: boolean) {
    const sent: { how: 'slot' | 'send'; reply: Buffer }[] = [];
    let reserved = -1;
    const buffer = Buffer.alloc(128);
    const channel: ReplyChannel = {
      protocol: 'udp',
      send: (_query, reply) => sent.push({ how: 'send', reply }),
      inPlace: {
        buffer,
        room: 64,
        reserve: () => (reserved = full ? -1 : 64),
        commit: (_query, length) => sent.push({ how: 'slot', reply: Buffer.from(buffer.subarray(reserved, reserved + length)) }),
      },
    };
    return { channel, sent };
  }

  function answered(channel: ReplyChannel, answer: Answer, name = 'www.example.nl') {
    const observed: Buffer[] = [];
    const writer = new ReplyWriter({ minTtl: 0, maxTtl: 86_400, udpSize: 1232 });
    const responder = new Responder(writer, pino({ level: 'silent' }), [], [{ replied: (_query, bytes, start, length) => observed.push(Buffer.from(bytes.subarray(start, start + length))) }]);
    const query = new Query();
    readRequest(encodeQuery(name, TYPE.A, { id: 0x2222, edns: { udp: 1232 } }), query);
    query.channel = channel;
    responder.answer(query, answer);
    const expected = answer.kind === AnswerKind.SYNTHETIC ? null : writer.write(query, answer, 0, -1, 1232);
    return { observed, expected, responder };
  }

  const query = new Query();
  readRequest(encodeQuery('www.example.nl', TYPE.A, { id: 0x2222, edns: { udp: 1232 } }), query);
  const small = scanResponse(encodeResponse(9, 'www.example.nl', TYPE.A, [{ name: 'www.example.nl', type: TYPE.A, ttl: 60, address: '192.0.2.1' }], { edns: true }), 9, query.question, query.questionLength, 1232).answer!;
  const records = Array.from({ length: 5 }, (_, i) => ({ name: 'www.example.nl', type: TYPE.A, ttl: 60, address: `192.0.2.${i}` }));
  const large = scanResponse(encodeResponse(9, 'www.example.nl', TYPE.A, records, { edns: true }), 9, query.question, query.questionLength, 1232).answer!;

  it('writes an answer that fits straight into the slot, and tells the observers those bytes', () => {
    const { channel, sent } = slotChannel(false);
    const { observed, expected, responder } = answered(channel, small);
    expect(sent).toEqual([{ how: 'slot', reply: expected }]);
    expect(observed).toEqual([expected]);
    expect(responder.counters.byRcode[Rcode.NOERROR]).toBe(1);
  });

  it('sends through send() what the slot cannot hold, and when no slot is free', () => {
    expect(large.length).toBeGreaterThan(64);
    const big = slotChannel(false);
    expect(answered(big.channel, large).observed).toHaveLength(1);
    expect(big.sent.map((entry) => entry.how)).toEqual(['send']);
    const full = slotChannel(true);
    const { expected } = answered(full.channel, small);
    expect(full.sent).toEqual([{ how: 'send', reply: expected }]);
  });

  it('writes answers made here (errors, blocks) into the slot too', () => {
    const made = slotChannel(false);
    const { observed } = answered(made.channel, Answer.synthetic(Rcode.SERVFAIL));
    expect(made.sent.map((entry) => entry.how)).toEqual(['slot']);
    expect(made.sent[0]!.reply.readUInt16BE(0)).toBe(0x2222);
    expect(made.sent[0]!.reply[3]! & 0x0f).toBe(Rcode.SERVFAIL);
    expect(observed).toEqual([made.sent[0]!.reply]);
  });
});
