/**
 * Publishing events into the hub with 0, 10 and 100 subscribed feed readers. One op is a
 * publish of 100 events followed by one wake turn in which every reader takes the new
 * events' JSON, as feed clients do: the text is built once per event and shared.
 */
import { EventHub, type EventSubscriber } from '../../src/events/event-hub.js';
import { sampleEvent } from '../../test/support/events.js';
import { runSuite } from '../support/suite.js';

const BATCH = 100;

function setUp(readers: number): () => void {
  const hub = new EventHub({ capacity: 65_536, firstId: 1, residualWindowMs: 300_000, pseudonymiser: null });
  const cursors: number[] = [];
  const subscribers: EventSubscriber[] = [];
  let bytes = 0;
  for (let r = 0; r < readers; r++) {
    cursors.push(1);
    const subscriber = {
      wake: () => {
        for (let id = cursors[r]!; id < hub.ring.nextId; id++) bytes += hub.ring.jsonOf(id)!.length;
        cursors[r] = hub.ring.nextId;
      },
    };
    subscribers.push(subscriber);
    hub.subscribe(subscriber);
  }
  return () => {
    for (let e = 0; e < BATCH; e++) hub.publish(sampleEvent({ qname: `api${e}.tiktokv.com` }));
    // The hub wakes readers on setImmediate; a synchronous benchmark loop wakes them itself.
    for (const subscriber of subscribers) subscriber.wake();
    if (bytes < 0) throw new Error('unreachable');
  };
}

const cases: Record<string, () => void> = {};
for (const readers of [0, 10, 100]) cases[`publish ${BATCH} events, ${readers} readers`] = setUp(readers);
const results = await runSuite('event-publish', cases);
for (const result of results) {
  process.stdout.write(`  ${result.name}: ${Math.round(result.opsPerSecond * BATCH).toLocaleString('en')} events/s\n`);
}
