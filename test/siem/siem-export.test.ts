import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SiemExport } from '../../src/siem/siem-export.js';
import { sampleEvent } from '../support/events.js';
import { FAST, INSTANCE, newHub, parseSyslog, PATIENCE, siemSettings, silentLog, UdpReceiver } from './support.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-siem-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const fileIds = async (path: string): Promise<string[]> =>
  (await readFile(path, 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { event: { id: string } }).event.id);

describe('SiemExport', () => {
  it('is not started when neither a syslog target nor a file is configured', () => {
    expect(SiemExport.start(siemSettings(), newHub(), silentLog, INSTANCE)).toBeNull();
  });

  it('refuses a malformed syslog target, naming the setting', () => {
    expect(() => SiemExport.start(siemSettings({ target: 'siem.example:514' }), newHub(), silentLog, INSTANCE)).toThrow(/^siem\.syslog\.target: .*IPv4 or IPv6/);
  });

  it('formats each event once for both sinks and counts for each sink', async () => {
    const udp = await UdpReceiver.bind();
    const path = join(dir, 'events.jsonl');
    const hub = newHub();
    const siem = SiemExport.start(siemSettings({ target: `127.0.0.1:${udp.port}`, path }), hub, silentLog, INSTANCE, FAST)!;
    hub.publish(sampleEvent({ action: 'block' }));
    hub.publish(sampleEvent({ action: 'exempt', exemption: 'press-office' }));
    await expect.poll(() => udp.messages.length, PATIENCE).toBe(2);
    await siem.close();
    await udp.close();
    const [line] = (await readFile(path, 'utf8')).split('\n');
    expect(parseSyslog(udp.messages[0]!).ecs).toEqual(JSON.parse(line!));
    expect(await fileIds(path)).toEqual(['1', '2']);
    expect(siem.counters).toMatchObject({ syslog: { exported: 2, dropped: 0 }, jsonl: { exported: 2, dropped: 0 } });
  });

  it("exports only this instance's events, though the hub holds other instances' too", async () => {
    const path = join(dir, 'events.jsonl');
    const hub = newHub();
    const siem = SiemExport.start(siemSettings({ path }), hub, silentLog, INSTANCE, FAST)!;
    hub.publish(sampleEvent({ instance: 'wp-2' }));
    hub.publish(sampleEvent());
    await siem.close();
    expect(await fileIds(path)).toEqual(['2']);
  });

  it('follows a ring fed from a shared stream: its first id and skipped ids are not losses', async () => {
    const path = join(dir, 'events.jsonl');
    const hub = newHub();
    const siem = SiemExport.start(siemSettings({ path }), hub, silentLog, INSTANCE, FAST)!;
    hub.accept(sampleEvent({ id: 500 }));
    hub.accept(sampleEvent({ id: 502 }));
    await siem.close();
    expect(await fileIds(path)).toEqual(['500', '502']);
    expect(siem.counters.jsonl).toMatchObject({ exported: 2, dropped: 0 });
  });

  it('counts events the ring overwrote before they were read as dropped in every sink', async () => {
    const udp = await UdpReceiver.bind();
    const path = join(dir, 'events.jsonl');
    const hub = newHub(4);
    const siem = SiemExport.start(siemSettings({ target: `127.0.0.1:${udp.port}`, path }), hub, silentLog, INSTANCE, FAST)!;
    // All in one turn: the exporter wakes only after the ring has wrapped.
    for (let i = 0; i < 10; i++) hub.publish(sampleEvent());
    await siem.close();
    await udp.close();
    expect(await fileIds(path)).toEqual(['7', '8', '9', '10']);
    expect(siem.counters).toMatchObject({ syslog: { exported: 4, dropped: 6 }, jsonl: { exported: 4, dropped: 6 } });
  });

  it('reads at most a batch per turn, so a backlog never stalls the event loop', async () => {
    // A directory as the file: nothing gets written, so drops show how much was read.
    const hub = newHub();
    const siem = SiemExport.start(siemSettings({ path: dir }), hub, silentLog, INSTANCE, { ...FAST, capacity: 1500, closeTimeoutMs: 100 })!;
    for (let i = 0; i < 2500; i++) hub.publish(sampleEvent());
    // Runs in the same turn as the hub's wake, after it.
    await new Promise((resolve) => setImmediate(resolve));
    expect(siem.counters.jsonl!.dropped).toBe(0);
    await expect.poll(() => siem.counters.jsonl!.dropped, PATIENCE).toBe(1000);
    await siem.close();
  });

  it('stops reading the hub once closed', async () => {
    const path = join(dir, 'events.jsonl');
    const hub = newHub();
    const siem = SiemExport.start(siemSettings({ path }), hub, silentLog, INSTANCE, FAST)!;
    hub.publish(sampleEvent());
    await siem.close();
    expect(hub.subscriberCount).toBe(0);
    hub.publish(sampleEvent());
    await new Promise((resolve) => setImmediate(resolve));
    expect(await fileIds(path)).toEqual(['1']);
  });
});
