import { afterEach, describe, expect, it } from 'vitest';
import { Pseudonymiser } from '../../src/events/pseudonymiser.js';
import { SiemExport } from '../../src/siem/siem-export.js';
import { MAX_DATAGRAM } from '../../src/siem/udp-sender.js';
import { sampleEvent } from '../support/events.js';
import { FAST, INSTANCE, newHub, parseSyslog, PATIENCE, siemSettings, silentLog, UdpReceiver } from './support.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((thing) => thing.close()));
});

async function receiver(port = 0): Promise<UdpReceiver> {
  const bound = await UdpReceiver.bind(port);
  open.push(bound);
  return bound;
}

function start(settings: ReturnType<typeof siemSettings>, hub = newHub()): SiemExport {
  const siem = SiemExport.start(settings, hub, silentLog, INSTANCE, FAST)!;
  open.push(siem);
  return siem;
}

describe('syslog over UDP', () => {
  it('sends each event of the configured kinds as one RFC 5424 datagram', async () => {
    const udp = await receiver();
    const hub = newHub();
    const siem = start(siemSettings({ target: `127.0.0.1:${udp.port}`, facility: 20 }), hub);
    hub.publish(sampleEvent({ action: 'block', hosting: [{ ip: '203.0.113.7', country: 'US', asn: 64500, org: 'Example CDN' }] }));
    hub.publish(sampleEvent({ kind: 'query', action: 'allow', app: null, qname: 'example.nl' }));
    hub.publish(sampleEvent({ kind: 'bypass', action: 'allow', qname: 'dns.google' }));
    await expect.poll(() => udp.messages.length, PATIENCE).toBe(2);
    const [block, bypass] = udp.messages.map(parseSyslog);
    expect(block).toMatchObject({ pri: 20 * 8 + 4, msgId: 'detection', hostname: 'test', params: { id: '1', action: 'block' } });
    expect(block!.ecs).toMatchObject({
      event: { id: '1', kind: 'alert', action: 'block' },
      source: { ip: '127.0.0.9' },
      dns: { question: { name: 'api16-normal-c-useast1a.tiktokv.com', type: 'A' }, resolved_ip: ['203.0.113.7'] },
      destination: { geo: { country_iso_code: 'US' }, as: { number: 64500 } },
    });
    expect(bypass).toMatchObject({ pri: 20 * 8 + 4, msgId: 'bypass', params: { id: '3' } });
    expect(bypass!.ecs.dns.question.name).toBe('dns.google');
    expect(siem.counters.syslog).toMatchObject({ exported: 2, dropped: 0, errors: 0 });
  });

  it('never sends a pseudonymised client as an address, nor the address behind it', async () => {
    const udp = await receiver();
    const hub = newHub(1024, new Pseudonymiser('k'.repeat(40)));
    start(siemSettings({ target: `127.0.0.1:${udp.port}` }), hub);
    hub.publish(sampleEvent({ client: '10.64.3.7' }));
    await expect.poll(() => udp.messages.length, PATIENCE).toBe(1);
    const raw = udp.messages[0]!.toString('utf8');
    expect(raw).not.toContain('10.64.3.7');
    const { ecs } = parseSyslog(udp.messages[0]!);
    expect(ecs.source).toBeUndefined();
    expect(ecs.device?.id).toMatch(/^p:[0-9a-f]{24}$/);
  });

  it('keeps sending, without throwing, while the receiver is away and after it is back', async () => {
    const first = await receiver();
    const port = first.port;
    const hub = newHub();
    const siem = start(siemSettings({ target: `127.0.0.1:${port}` }), hub);
    hub.publish(sampleEvent());
    await expect.poll(() => first.messages.length, PATIENCE).toBe(1);
    await first.close();
    for (let i = 0; i < 5; i++) hub.publish(sampleEvent());
    await expect.poll(() => siem.counters.syslog!.exported, PATIENCE).toBe(6);
    const second = await receiver(port);
    hub.publish(sampleEvent({ action: 'block' }));
    await expect.poll(() => second.messages.length, PATIENCE).toBe(1);
    expect(parseSyslog(second.messages[0]!).params).toMatchObject({ id: '7', action: 'block' });
  });

  it('cuts an oversized message to one datagram between UTF-8 characters, header and SD intact', async () => {
    const udp = await receiver();
    const hub = newHub();
    const siem = start(siemSettings({ target: `127.0.0.1:${udp.port}` }), hub);
    hub.publish(sampleEvent({ action: 'exempt', exemption: '€'.repeat(4000) }));
    await expect.poll(() => udp.messages.length, PATIENCE).toBe(1);
    const raw = udp.messages[0]!;
    const text = raw.toString('utf8');
    expect(raw.length).toBeLessThanOrEqual(MAX_DATAGRAM);
    expect(raw.length).toBeGreaterThan(MAX_DATAGRAM - 3);
    expect(text).not.toContain('\uFFFD');
    expect(text).toMatch(/^<133>1 \S+ test wachtpost \d+ detection \[wachtpost@32473 id="1" action="exempt" rule="owner-country:CN"\] \uFEFF\{/);
    expect(siem.counters.syslog).toMatchObject({ exported: 1, truncated: 1 });
  });
});
