import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ecsDocument } from '../../src/siem/ecs.js';
import { SiemExport } from '../../src/siem/siem-export.js';
import type { SinkOptions } from '../../src/siem/sink.js';
import { sampleEvent } from '../support/events.js';
import { FAST, INSTANCE, newHub, PATIENCE, siemSettings, silentLog } from './support.js';

let dir: string;
const open: SiemExport[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-siem-'));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((siem) => siem.close()));
  await rm(dir, { recursive: true, force: true });
});

function start(path: string, hub = newHub(), options: SinkOptions = FAST, kinds?: string[]): SiemExport {
  const siem = SiemExport.start(siemSettings({ path, kinds }), hub, silentLog, INSTANCE, options)!;
  open.push(siem);
  return siem;
}

async function lines(path: string): Promise<unknown[]> {
  const text = await readFile(path, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n').map((line) => JSON.parse(line));
}

describe('JSON-lines file', () => {
  it('appends one ECS object per line for the configured kinds, creating the directory', async () => {
    const path = join(dir, 'siem', 'wachtpost.jsonl');
    const hub = newHub();
    const siem = start(path, hub, FAST, ['detection', 'query']);
    hub.publish(sampleEvent({ action: 'block' }));
    hub.publish(sampleEvent({ kind: 'bypass', action: 'allow' }));
    hub.publish(sampleEvent({ kind: 'query', action: 'allow', app: null }));
    await siem.close();
    expect(await lines(path)).toEqual([ecsDocument(hub.ring.get(1)!), ecsDocument(hub.ring.get(3)!)]);
    expect(siem.counters).toEqual({ jsonl: { exported: 2, dropped: 0, errors: 0, truncated: 0 } });
  });

  it('appends to an existing file and starts a new one on reopen after rotation', async () => {
    const path = join(dir, 'wachtpost.jsonl');
    await writeFile(path, '{"earlier":true}\n');
    const hub = newHub();
    const siem = start(path, hub);
    hub.publish(sampleEvent());
    await expect.poll(async () => (await readFile(path, 'utf8')).split('\n').length, PATIENCE).toBe(3);
    await rename(path, `${path}.1`);
    siem.reopen();
    hub.publish(sampleEvent({ action: 'block' }));
    await siem.close();
    expect(await lines(`${path}.1`)).toMatchObject([{ earlier: true }, { event: { id: '1' } }]);
    expect(await lines(path)).toMatchObject([{ event: { id: '2', action: 'block' } }]);
  });

  it('counts errors and drops lines beyond capacity while the file cannot be opened, without throwing', async () => {
    // A directory where the file should be: every open fails with EISDIR.
    const hub = newHub();
    const siem = start(dir, hub, { ...FAST, capacity: 3, closeTimeoutMs: 100 });
    for (let i = 0; i < 10; i++) hub.publish(sampleEvent());
    await expect.poll(() => siem.counters.jsonl!.errors, PATIENCE).toBeGreaterThan(1);
    expect(siem.counters.jsonl!.dropped).toBe(7);
    await siem.close();
    expect(siem.counters.jsonl).toMatchObject({ exported: 0, dropped: 10 });
  });

  it('refuses a path whose directory cannot be created, naming the setting', async () => {
    const file = join(dir, 'file');
    await writeFile(file, '');
    expect(() => SiemExport.start(siemSettings({ path: join(file, 'x.jsonl') }), newHub(), silentLog, INSTANCE)).toThrow(/^siem\.jsonl\.path: cannot create the directory .*EEXIST/);
  });
});
