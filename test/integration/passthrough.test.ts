import { beforeAll, describe, expect, it } from 'vitest';
import { dig, rawQuery } from '../support/dig.js';
import { encodeQuery } from '../support/packets.js';
import { sleep, withKnotUpstream, type Endpoint, type KnotSetup } from './harness.js';

const OPT_LENGTH = 11;
const setup = withKnotUpstream();
let knot: KnotSetup['knot'];
let wachtpost: KnotSetup['wp'];
let server: Endpoint;
beforeAll(() => {
  ({ knot, wp: wachtpost } = setup);
  server = wachtpost.server;
});

/** Answer, authority and additional records, byte for byte, without the OPT record at the end. */
function recordsOf(message: Buffer): Buffer {
  expect(message.readUInt16BE(message.length - OPT_LENGTH + 1)).toBe(41);
  return message.subarray(12, message.length - OPT_LENGTH);
}

describe('records pass through byte-exact', () => {
  const cases: Array<[string, number]> = [
    ['a.test.wachtpost', 1],
    ['aaaa.test.wachtpost', 28],
    ['chain.test.wachtpost', 1],
    ['mx.test.wachtpost', 15],
    ['txt.test.wachtpost', 16],
    ['https.test.wachtpost', 65],
    ['svcb.test.wachtpost', 64],
    ['unknown.test.wachtpost', 65280],
  ];
  for (const [name, type] of cases) {
    it(`${name} type ${type}`, async () => {
      const query = encodeQuery(name, type, { id: 0x5151, edns: { udp: 1232 } });
      const direct = await rawQuery(knot, query, { timeoutMs: 2000 });
      const viaWachtpost = await rawQuery(server, query, { timeoutMs: 2000 });
      expect(direct).not.toBeNull();
      expect(viaWachtpost).not.toBeNull();
      expect(viaWachtpost!.readUInt16BE(0)).toBe(0x5151);
      expect(viaWachtpost!.readUInt16BE(6)).toBeGreaterThan(0);
      expect(recordsOf(viaWachtpost!)).toEqual(recordsOf(direct!));
    });
  }

  it("clears the upstream's AA flag: the answer is ours as a recursive service, not authoritative", async () => {
    expect((await dig(knot, 'a.test.wachtpost', 'A')).flags.has('aa')).toBe(true);
    const result = await dig(server, 'a.test.wachtpost', 'A');
    expect(result.status).toBe('NOERROR');
    expect(result.flags.has('aa')).toBe(false);
  });

  it('follows a CNAME chain as the upstream gave it (dig view)', async () => {
    const result = await dig(server, 'chain.test.wachtpost', 'A');
    expect(result.status).toBe('NOERROR');
    expect(result.answer.map((record) => record.type)).toEqual(['CNAME', 'CNAME', 'CNAME', 'A']);
    expect(result.answer.at(-1)!.data).toBe('192.0.2.10');
    expect(result.flags.has('ra')).toBe(true);
  });
});

describe('EDNS0', () => {
  it('answers a malformed query that carries an OPT record with FORMERR and an OPT record (RFC 6891 §7)', async () => {
    for (const edns of [{ udp: 1232 }, null]) {
      // Two questions (one is the most a query may have), then the OPT record if any.
      const one = encodeQuery('a.test.wachtpost', 1, { id: 0x6161, edns });
      const question = one.subarray(12, 12 + 22);
      const twoQuestions = Buffer.concat([one.subarray(0, 12), question, question, one.subarray(12 + 22)]);
      twoQuestions.writeUInt16BE(2, 4);
      const reply = (await rawQuery(server, twoQuestions, { timeoutMs: 2000 }))!;
      expect(reply.readUInt16BE(0)).toBe(0x6161);
      expect(reply.readUInt16BE(2) & 0xf).toBe(1);
      expect(reply.readUInt16BE(10)).toBe(edns === null ? 0 : 1);
      if (edns !== null) expect(reply.readUInt16BE(reply.length - OPT_LENGTH + 1)).toBe(41);
    }
  });

  it('keeps the DO bit and passes DNSSEC records through', async () => {
    const withDo = await dig(server, 'a.signed.wachtpost', 'A', { dnssec: true });
    expect(withDo.status).toBe('NOERROR');
    expect(withDo.edns?.flags).toContain('do');
    expect(withDo.answer.some((record) => record.type === 'RRSIG')).toBe(true);
    const withoutDo = await dig(server, 'a.signed.wachtpost', 'A');
    expect(withoutDo.answer.some((record) => record.type === 'RRSIG')).toBe(false);
  });

  it('advertises 1232 and sends no OPT to a client that sent none', async () => {
    const edns = await dig(server, 'a.test.wachtpost', 'A', { bufsize: 4096 });
    expect(edns.edns?.udp).toBe(1232);
    const plain = await dig(server, 'a.test.wachtpost', 'A', { bufsize: 'noedns' });
    expect(plain.status).toBe('NOERROR');
    expect(plain.edns).toBeNull();
  });

  it('truncates an answer that does not fit, and dig retries over TCP', async () => {
    const result = await dig(server, 'big.test.wachtpost', 'TXT');
    expect(result.truncatedRetriedTcp).toBe(true);
    expect(result.status).toBe('NOERROR');
    expect(result.msgSize).toBeGreaterThan(1232);
    const direct = await dig(knot, 'big.test.wachtpost', 'TXT', { tcp: true });
    expect(result.answer.length).toBe(direct.answer.length);
  });

  it("honours a client's smaller UDP size", async () => {
    const small = await dig(server, 'big.test.wachtpost', 'TXT', { bufsize: 512, ignoreTc: true });
    expect(small.flags.has('tc')).toBe(true);
    expect(small.msgSize).toBeLessThanOrEqual(512);
  });
});

describe('cache', () => {
  it('counts TTLs down on a hit', async () => {
    const first = await dig(server, 'ttl.test.wachtpost', 'A');
    expect(first.answer[0]!.ttl).toBe(100);
    await sleep(2100);
    const second = await dig(server, 'ttl.test.wachtpost', 'A');
    expect(second.answer[0]!.ttl).toBeLessThanOrEqual(98);
    expect(second.answer[0]!.ttl).toBeGreaterThanOrEqual(96);
  });

  it('caches NXDOMAIN with the SOA and keeps the TTL counting down', async () => {
    const first = await dig(server, 'missing.test.wachtpost', 'A');
    expect(first.status).toBe('NXDOMAIN');
    expect(first.authority[0]!.type).toBe('SOA');
    const hitsBefore = wachtpost.resolver.chain.cache.counters.hits;
    await sleep(1100);
    const second = await dig(server, 'missing.test.wachtpost', 'A');
    expect(second.status).toBe('NXDOMAIN');
    expect(wachtpost.resolver.chain.cache.counters.hits).toBe(hitsBefore + 1);
    expect(second.authority[0]!.ttl).toBeLessThan(first.authority[0]!.ttl);
  });

  it('keys on the question case-insensitively and echoes the client spelling', async () => {
    await dig(server, 'aaaa.test.wachtpost', 'AAAA');
    const hitsBefore = wachtpost.resolver.chain.cache.counters.hits;
    const mixed = await dig(server, 'AaAa.TeSt.WachtPost', 'AAAA');
    expect(mixed.status).toBe('NOERROR');
    expect(wachtpost.resolver.chain.cache.counters.hits).toBe(hitsBefore + 1);
    expect(mixed.raw).toContain('AaAa.TeSt.WachtPost.');
  });
});
