import { afterEach, describe, expect, it } from 'vitest';
import type { DetectionEvent } from '../../src/events/detection-event.js';
import type { EventSink } from '../../src/events/event-sink.js';
import { RepeatFolder } from '../../src/events/repeat-folder.js';
import { sampleEvent } from '../support/events.js';

/** Collects what the folder hands on. */
class Collected implements EventSink {
  readonly dropped = 0;
  events: DetectionEvent[] = [];
  publish(event: DetectionEvent): void {
    this.events.push(event);
  }
}

// Long enough that the folder's own timer never closes a window during a test: they call sweep.
const WINDOW_MS = 60_000;
const folders: RepeatFolder[] = [];

function folding(maxFolds?: number): { sink: Collected; folder: RepeatFolder } {
  const sink = new Collected();
  const folder = new RepeatFolder(sink, WINDOW_MS, maxFolds);
  folders.push(folder);
  return { sink, folder };
}

/** Sums `count` over events: the number of queries they stand for. */
const queries = (events: DetectionEvent[]): number => events.reduce((sum, event) => sum + event.count, 0);

afterEach(() => {
  for (const folder of folders.splice(0)) folder.close();
});

describe('RepeatFolder', () => {
  it('publishes the first query at once and the repeats as one event with their count when the window closes', () => {
    const { sink, folder } = folding();
    folder.publish(sampleEvent({ ts: 1 }));
    expect(sink.events).toMatchObject([{ ts: 1, count: 1 }]);
    for (let ts = 2; ts <= 40; ts++) folder.publish(sampleEvent({ ts, latency_ms: ts / 10, cached: true }));
    expect(sink.events).toHaveLength(1);
    expect(folder.folded).toBe(39);
    folder.sweep(performance.now() + WINDOW_MS);
    // The held event is the last query's: its time, latency and cache state.
    expect(sink.events).toMatchObject([
      { ts: 1, count: 1 },
      { ts: 40, count: 39, latency_ms: 4, cached: true },
    ]);
    expect(queries(sink.events)).toBe(40);
  });

  it('yields one event per window while the repeats go on, and forgets a name once they stop', () => {
    const { sink, folder } = folding();
    folder.publish(sampleEvent({ ts: 0 }));
    let now = performance.now();
    for (let window = 1; window <= 3; window++) {
      for (let i = 0; i < 5; i++) folder.publish(sampleEvent({ ts: window * 10 + i }));
      now += WINDOW_MS;
      folder.sweep(now);
    }
    expect(sink.events.map((event) => event.count)).toEqual([1, 5, 5, 5]);
    // A window without repeats ends the fold: the next query is news again and goes out at once.
    now += WINDOW_MS;
    folder.sweep(now);
    folder.publish(sampleEvent({ ts: 99 }));
    expect(sink.events.at(-1)).toMatchObject({ ts: 99, count: 1 });
    expect(sink.events).toHaveLength(5);
  });

  it('keeps devices, names and types apart', () => {
    const { sink, folder } = folding();
    for (let i = 0; i < 2; i++) {
      folder.publish(sampleEvent());
      folder.publish(sampleEvent({ client: '127.0.0.10' }));
      folder.publish(sampleEvent({ qname: 'log.tiktokv.com' }));
      folder.publish(sampleEvent({ qtype: 'AAAA' }));
    }
    expect(sink.events).toHaveLength(4);
    folder.sweep(performance.now() + WINDOW_MS);
    expect(sink.events.map((event) => event.count)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
  });

  it.each<[string, Partial<DetectionEvent>]>([
    ['the action', { action: 'block', rule: 'app:tiktok' }],
    ['the exemption', { action: 'exempt', exemption: 'nvwa-inspection' }],
    ['the rcode', { rcode: 'SERVFAIL' }],
    ['the group', { group: 'nvwa' }],
    ['the kind', { kind: 'bypass' }],
    ['the hosting', { hosting: [{ ip: '203.0.113.7', country: 'CN', asn: 4134, org: 'Chinanet' }], hosting_watchlisted: true }],
    ['the attributed owner', { owner: { name: 'Beijing Douyin Information Service Co., Ltd.', country: 'CN' } }],
    ['the attribution', { attribution: 'network' }],
  ])('closes the fold early when %s changes: the count so far goes out first', (_, change) => {
    const { sink, folder } = folding();
    folder.publish(sampleEvent({ ts: 1 }));
    folder.publish(sampleEvent({ ts: 2 }));
    folder.publish(sampleEvent({ ts: 3 }));
    folder.publish(sampleEvent({ ts: 4, ...change }));
    expect(sink.events).toMatchObject([
      { ts: 1, count: 1 },
      { ts: 3, count: 2 },
      { ts: 4, count: 1, ...change },
    ]);
  });

  it('compares hosting entry by entry, as the tagger hands out one object per address', () => {
    const { sink, folder } = folding();
    const nl = { ip: '193.0.14.129', country: 'NL', asn: 25152, org: 'RIPE NCC' };
    folder.publish(sampleEvent({ hosting: [nl] }));
    folder.publish(sampleEvent({ hosting: [nl] }));
    folder.publish(sampleEvent({ hosting: [{ ...nl }] }));
    expect(sink.events.map((event) => event.count)).toEqual([1, 1, 1]);
  });

  it('closes the oldest fold early when too many are open, without losing its count', () => {
    const { sink, folder } = folding(2);
    folder.publish(sampleEvent({ qname: 'a.tiktokv.com' }));
    folder.publish(sampleEvent({ qname: 'a.tiktokv.com' }));
    folder.publish(sampleEvent({ qname: 'b.tiktokv.com' }));
    folder.publish(sampleEvent({ qname: 'c.tiktokv.com' }));
    expect(sink.events.map((event) => `${event.qname} ${event.count}`)).toEqual([
      'a.tiktokv.com 1',
      'b.tiktokv.com 1',
      'c.tiktokv.com 1',
      'a.tiktokv.com 1',
    ]);
    // "a" is forgotten: it is news again.
    folder.publish(sampleEvent({ qname: 'a.tiktokv.com' }));
    expect(sink.events).toHaveLength(5);
  });

  it('hands every held count on when it closes', () => {
    const { sink, folder } = folding();
    for (const qname of ['a.tiktokv.com', 'b.tiktokv.com']) for (let i = 0; i < 3; i++) folder.publish(sampleEvent({ qname }));
    folder.close();
    expect(queries(sink.events)).toBe(6);
    expect(sink.events.map((event) => event.count)).toEqual([1, 1, 2, 2]);
  });

  it('closes windows on its own timer', async () => {
    const sink = new Collected();
    const folder = new RepeatFolder(sink, 40);
    folders.push(folder);
    folder.publish(sampleEvent());
    folder.publish(sampleEvent());
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sink.events.map((event) => event.count)).toEqual([1, 1]);
  });
});
