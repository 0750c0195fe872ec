import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { DetectionEvent } from '../../src/events/detection-event.js';
import { EventHub } from '../../src/events/event-hub.js';
import { dig } from '../support/dig.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { startWachtpost, type RunningWachtpost } from './harness.js';

const TIKTOK = 'api16-normal-c-useast1a.tiktokv.com';

let knot: KnotServer;
let dir: string;
let wp: RunningWachtpost;
let hub: EventHub;
let next = 1;
const take = (): DetectionEvent[] => {
  const events: DetectionEvent[] = [];
  for (; next < hub.ring.nextId; next++) events.push(hub.ring.get(next)!);
  return events;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-device-map-'));
  await writeFile(join(dir, 'devices.txt'), '127.0.0.2 phone-2\n127.0.0.0/29 pool-lo\n');
  knot = await startKnot();
  hub = new EventHub({ capacity: 256, firstId: 1, residualWindowMs: 60_000, pseudonymiser: null });
}, 30_000);
afterAll(async () => {
  await wp?.stop();
  await knot?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a static address → device map', () => {
  const yaml = () =>
    `identity:\n  static_map: ${join(dir, 'devices.txt')}\nevents:\n  fold_window_ms: 0\npolicy:\n  groups:\n    - { name: phones, organisation: X, devices: ["phone-*"] }\n`;

  it('gives every query from a mapped address its device: on the event and in a group match', async () => {
    wp = await startWachtpost([knot], yaml(), {}, hub);
    await dig(wp.server, TIKTOK, 'A', { extra: ['-b', '127.0.0.2'] });
    await dig(wp.server, TIKTOK, 'A', { extra: ['-b', '127.0.0.3'] });
    await dig(wp.server, TIKTOK, 'A', { extra: ['-b', '127.0.0.9'] });
    expect(take().map((event) => [event.client, event.device, event.group])).toEqual([
      ['127.0.0.2', 'phone-2', 'phones'],
      ['127.0.0.3', 'pool-lo', null],
      ['127.0.0.9', null, null],
    ]);
  });

  it('takes a changed map on reload, and keeps the running one when the new file is broken', async () => {
    await writeFile(join(dir, 'devices.txt'), '127.0.0.2 phone-22\n');
    wp.resolver.reload(loadConfig({ text: yaml(), overrides: { upstream: [`${knot.host}:${knot.port}`] } }));
    await dig(wp.server, TIKTOK, 'A', { extra: ['-b', '127.0.0.2'] });
    await writeFile(join(dir, 'devices.txt'), '127.0.0.2 bad_id\n');
    expect(() => wp.resolver.reload(loadConfig({ text: yaml(), overrides: { upstream: [`${knot.host}:${knot.port}`] } }))).toThrow(/devices\.txt:1: "bad_id"/);
    await dig(wp.server, TIKTOK, 'A', { extra: ['-b', '127.0.0.2'] });
    expect(take().map((event) => event.device)).toEqual(['phone-22', 'phone-22']);
  });
});
