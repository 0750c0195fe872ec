import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { EventPath } from '../../src/server/event-path.js';
import { makeEvent } from '../history/fixtures.js';

let path: EventPath | null = null;
afterEach(async () => {
  await path?.close();
  path = null;
});

describe('EventPath', () => {
  it("hands a worker's batch to the hub in order, numbering each event and counting the worker's drops", async () => {
    const config = loadConfig({ text: 'history: { path: "" }\n', overrides: { upstream: ['127.0.0.1:5300'] } });
    path = await EventPath.start(config, pino({ level: 'silent' }), () => {});
    path.handOver({ type: 'events', events: [makeEvent({ qname: 'a.example' }), makeEvent({ qname: 'b.example' })], dropped: 3 });
    const held = [path.hub.ring.get(1), path.hub.ring.get(2)];
    expect(held.map((event) => [event?.id, event?.qname])).toEqual([
      [1, 'a.example'],
      [2, 'b.example'],
    ]);
    expect(path.hub.counters).toMatchObject({ published: 2, droppedInWorkers: 3 });
    expect(path.history).toBeNull();
    expect(path.degraded()).toEqual([]);
  });
});
