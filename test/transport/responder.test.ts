import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { DnsError } from '../../src/pipeline/dns-error.js';
import { Query, type ReplyChannel } from '../../src/pipeline/query.js';
import { Responder } from '../../src/transport/responder.js';
import { UpstreamFailure } from '../../src/upstream/errors.js';
import { EdeCode, Rcode } from '../../src/wire/constants.js';
import { ReplyWriter } from '../../src/wire/reply.js';
import { readRequest } from '../../src/wire/request.js';
import { encodeQuery, TYPE } from '../support/packets.js';

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
