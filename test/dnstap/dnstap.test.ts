import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWachtpost, type RunningWachtpost } from '../integration/harness.js';
import { dig } from '../support/dig.js';
import { startDnstapReader, startFstrmCapture, type DnstapReader, type TapMessage } from '../support/dnstap-reader.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { encodeQuery, TYPE } from '../support/packets.js';
import { freePort } from '../support/ports.js';
import { udpLoad } from '../support/udp-load.js';

const TIKTOK = 'api16-normal-c-useast1a.tiktokv.com';
let knot: KnotServer;

beforeAll(async () => {
  knot = await startKnot();
}, 30_000);
afterAll(async () => {
  await knot?.stop();
});

const ofType = (messages: TapMessage[], type: string): TapMessage[] => messages.filter((m) => m.message.type === type);
/** Messages about `name`, in any case: resolver messages carry it in the 0x20 mixed case sent upstream. */
const about = (messages: TapMessage[], name: string): TapMessage[] =>
  messages.filter((m) => `${m.message.query_message ?? ''}${m.message.response_message ?? ''}`.toLowerCase().includes(`;${name}.`));

/** A resolver in front of Knot sending dnstap to `reader`, with `yaml` added to its configuration. */
function withDnstap(reader: DnstapReader, yaml = ''): Promise<RunningWachtpost> {
  return startWachtpost([knot], `mode: enforce\ndnstap:\n  target: "${reader.target}"\n  identity: resolver-test\n${yaml}`);
}

describe('dnstap to the dnstap CLI over a Unix socket', () => {
  let reader: DnstapReader;
  let wp: RunningWachtpost;
  beforeAll(async () => {
    reader = await startDnstapReader();
    wp = await withDnstap(reader);
  }, 30_000);
  afterAll(async () => {
    await wp?.stop();
    await reader?.stop();
  });

  it('sends CLIENT_QUERY, CLIENT_RESPONSE, RESOLVER_QUERY and RESOLVER_RESPONSE for a forwarded query', async () => {
    const answer = await dig(wp.server, 'a.test.wachtpost', 'A');
    expect(answer.answer[0]?.data).toBe('192.0.2.10');
    const messages = await reader.until((received) => about(received, 'a.test.wachtpost').length >= 4);
    const ours = about(messages, 'a.test.wachtpost');
    expect(ours.map((m) => m.message.type).sort()).toEqual(['CLIENT_QUERY', 'CLIENT_RESPONSE', 'RESOLVER_QUERY', 'RESOLVER_RESPONSE']);
    for (const m of ours) {
      expect(m).toMatchObject({ type: 'MESSAGE', identity: 'resolver-test', version: expect.stringMatching(/^wachtpost \d+\.\d+\.\d+/) });
      expect(m.message).toMatchObject({ socket_family: 'INET', socket_protocol: 'UDP' });
    }
    const [response] = ofType(ours, 'CLIENT_RESPONSE');
    expect(response!.message).toMatchObject({ query_address: '127.0.0.1', response_address: '127.0.0.1', response_port: wp.server.port });
    expect(response!.message.response_message).toMatch(/status: NOERROR[\s\S]*192\.0\.2\.10/);
    const [upstream] = ofType(ours, 'RESOLVER_RESPONSE');
    expect(upstream!.message).toMatchObject({ response_address: '127.0.0.1', response_port: knot.port });
  });

  it('marks queries over TCP', async () => {
    await dig(wp.server, 'aaaa.test.wachtpost', 'AAAA', { tcp: true });
    const messages = await reader.until((received) => ofType(about(received, 'aaaa.test.wachtpost'), 'CLIENT_RESPONSE').length >= 1);
    const [response] = ofType(about(messages, 'aaaa.test.wachtpost'), 'CLIENT_RESPONSE');
    expect(response!.message.socket_protocol).toBe('TCP');
    expect(response!.message.response_message).toContain('2001:db8::10');
  });

  it('counts what it sent for the metrics', () => {
    expect(wp.resolver.dnstap).toMatchObject({ connected: true, connects: 1, dropped: 0 });
    expect(wp.resolver.dnstap!.sent).toBeGreaterThanOrEqual(6);
  });
});

describe('dnstap to fstrm_capture, decoded by dnstap-ldns', () => {
  it("puts the app, its owner's country and the action in the extra field of client messages", async () => {
    const capture = await startFstrmCapture();
    const wp = await startWachtpost([knot], `mode: enforce\ndnstap:\n  target: "${capture.target}"\n`);
    let messages: TapMessage[];
    try {
      expect((await dig(wp.server, TIKTOK, 'A')).status).toBe('NXDOMAIN');
      expect((await dig(wp.server, 'a.test.wachtpost', 'A')).status).toBe('NOERROR');
    } finally {
      // A drain ends the stream (STOP, FINISH); the capture then writes its file out.
      await wp.stop();
      messages = await capture.stop();
    }
    const blocked = about(messages, TIKTOK);
    expect(ofType(blocked, 'CLIENT_QUERY').map((m) => m.extra)).toEqual(['app=tiktok;owner=CN;action=block']);
    expect(ofType(blocked, 'CLIENT_RESPONSE').map((m) => m.extra)).toEqual(['app=tiktok;owner=CN;action=block']);
    expect(ofType(blocked, 'CLIENT_RESPONSE')[0]!.message.response_message).toContain('NXDOMAIN');
    const plain = about(messages, 'a.test.wachtpost');
    expect(plain.map((m) => m.message.type).sort()).toEqual(['CLIENT_QUERY', 'CLIENT_RESPONSE', 'RESOLVER_QUERY', 'RESOLVER_RESPONSE']);
    for (const m of plain) expect(m.extra).toBeUndefined();
  }, 30_000);
});

describe('dnstap over TCP, only the message types asked for', () => {
  it('sends CLIENT_RESPONSE alone to dnstap -l', async () => {
    const reader = await startDnstapReader({ tcpPort: await freePort() });
    const wp = await withDnstap(reader, '  messages: [client_response]\n');
    try {
      await dig(wp.server, 'multi.test.wachtpost', 'A');
      const messages = await reader.until((received) => about(received, 'multi.test.wachtpost').length >= 1);
      await dig(wp.server, 'a.test.wachtpost', 'A');
      const all = await reader.until((received) => about(received, 'a.test.wachtpost').length >= 1);
      expect(new Set(all.map((m) => m.message.type))).toEqual(new Set(['CLIENT_RESPONSE']));
      expect(messages[0]!.message.socket_protocol).toBe('UDP');
    } finally {
      await wp.stop();
      await reader.stop();
    }
  }, 30_000);
});

describe('dnstap receiver away', () => {
  it('never holds up DNS, drops beyond the buffer and counts it, and connects once the receiver is there', async () => {
    const port = await freePort();
    const wp = await startWachtpost([knot], `dnstap:\n  target: "tcp:127.0.0.1:${port}"\n  buffer_bytes: 65536\n`);
    let reader: DnstapReader | null = null;
    try {
      // Every reply makes two client messages of about 150 bytes: 2,000 overflow 64 KiB.
      const load = await udpLoad(wp.server, encodeQuery('txt.test.wachtpost', TYPE.TXT), 2000, 50, 20_000);
      expect(load.answered).toBe(2000);
      expect(wp.resolver.dnstap).toMatchObject({ connected: false, sent: 0 });
      expect(wp.resolver.dnstap!.dropped).toBeGreaterThan(0);
      reader = await startDnstapReader({ tcpPort: port });
      // The writer retries with a backoff (at most 30 s); the buffered messages then arrive.
      await reader.until((received) => about(received, 'txt.test.wachtpost').length > 0, 40_000);
      expect(wp.resolver.dnstap).toMatchObject({ connected: true, connects: 1 });
    } finally {
      await wp.stop();
      await reader?.stop();
    }
  }, 90_000);
});
