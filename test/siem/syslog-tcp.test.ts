import { afterEach, describe, expect, it } from 'vitest';
import { SiemExport } from '../../src/siem/siem-export.js';
import type { SinkOptions } from '../../src/siem/sink.js';
import { sampleEvent } from '../support/events.js';
import { FAST, INSTANCE, newHub, parseSyslog, PATIENCE, siemSettings, silentLog, TcpReceiver } from './support.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((thing) => thing.close()));
});

async function receiver(port = 0): Promise<TcpReceiver> {
  const listening = await TcpReceiver.listen(port);
  open.push(listening);
  return listening;
}

function start(port: number, hub = newHub(), options: SinkOptions = FAST): SiemExport {
  const siem = SiemExport.start(siemSettings({ target: `127.0.0.1:${port}`, protocol: 'tcp' }), hub, silentLog, INSTANCE, options)!;
  open.push(siem);
  return siem;
}

const ids = (tcp: TcpReceiver): number[] => tcp.messages.map((message) => Number(parseSyslog(message).params.id));

describe('syslog over TCP', () => {
  it('frames every message with its octet count, however reads split or coalesce them', async () => {
    const tcp = await receiver();
    const hub = newHub();
    const siem = start(tcp.port, hub);
    // Multi-byte characters make octet and character counts differ.
    for (let i = 0; i < 2000; i++) hub.publish(sampleEvent({ action: 'block', qname: `ü${i}.tiktokv.com`, rule: `r"${i}"]` }));
    await expect.poll(() => tcp.messages.length, { timeout: 10_000 }).toBe(2000);
    expect(tcp.framingErrors).toEqual([]);
    expect(tcp.splitReads).toBeGreaterThan(0);
    expect(tcp.coalescedReads).toBeGreaterThan(0);
    const messages = tcp.messages.map(parseSyslog);
    expect(messages.map((message) => Number(message.params.id))).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    expect(messages[1999]!.ecs.dns.question.name).toBe('ü1999.tiktokv.com');
    expect(messages[1999]!.params.rule).toBe('r"1999"]');
    expect(siem.counters.syslog).toMatchObject({ exported: 2000, dropped: 0, errors: 0 });
    expect(tcp.connections).toBe(1);
  });

  it('queues while the receiver is away, drops the oldest beyond capacity and reconnects', async () => {
    const first = await receiver();
    const port = first.port;
    const hub = newHub();
    const siem = start(port, hub, { ...FAST, capacity: 5 });
    hub.publish(sampleEvent());
    await expect.poll(() => first.messages.length, PATIENCE).toBe(1);
    await first.close();
    // Refused reconnects show the sender has noticed.
    await expect.poll(() => siem.counters.syslog!.errors, PATIENCE).toBeGreaterThan(0);
    for (let i = 0; i < 20; i++) hub.publish(sampleEvent());
    await expect.poll(() => siem.counters.syslog!.dropped, PATIENCE).toBe(15);
    const second = await receiver(port);
    await expect.poll(() => ids(second), PATIENCE).toEqual([17, 18, 19, 20, 21]);
    hub.publish(sampleEvent({ action: 'block' }));
    await expect.poll(() => ids(second), PATIENCE).toEqual([17, 18, 19, 20, 21, 22]);
    expect(siem.counters.syslog).toMatchObject({ exported: 7, dropped: 15 });
  });

  it('on close, waits for the connection and sends what is queued', async () => {
    const tcp = await receiver();
    const hub = newHub();
    const siem = start(tcp.port, hub);
    for (let i = 0; i < 3; i++) hub.publish(sampleEvent());
    await siem.close();
    await expect.poll(() => ids(tcp), PATIENCE).toEqual([1, 2, 3]);
    expect(siem.counters.syslog).toMatchObject({ exported: 3, dropped: 0 });
  });

  it('counts what it could not send to a receiver that never came as dropped on close', async () => {
    const gone = await receiver();
    const port = gone.port;
    await gone.close();
    const hub = newHub();
    const siem = start(port, hub, { ...FAST, closeTimeoutMs: 100 });
    for (let i = 0; i < 4; i++) hub.publish(sampleEvent());
    await expect.poll(() => siem.counters.syslog!.errors, PATIENCE).toBeGreaterThan(0);
    await siem.close();
    expect(siem.counters.syslog).toMatchObject({ exported: 0, dropped: 4 });
  });
});
