/**
 * A worker's event batch on its way to the primary: encoding in the worker (on the DNS
 * event loop) and decoding in the primary, as event-codec does it and as a structured clone
 * of the event objects (what process.send's 'advanced' serialization did with them before).
 * One op is one 60-event batch, about what a worker sends per 50 ms at 1,200 events/s.
 * The events are the history benchmarks' mix (./history/events.ts).
 */
import { deserialize, serialize } from 'node:v8';
import { decodeEvents, encodeEvents } from '../../src/events/event-codec.js';
import { templates } from '../history/events.js';
import { runSuite } from '../support/suite.js';

const BATCH = 60;
const events = templates(BATCH, 7, false);
// Both as they arrive from the IPC channel: a structured clone of the message's events field.
const encoded = serialize(encodeEvents(events));
const cloned = serialize(events);
let sink = 0;

const results = await runSuite('event-batch-codec', {
  [`encode ${BATCH} events (event-codec)`]: () => void (sink += serialize(encodeEvents(events)).length),
  [`encode ${BATCH} events (structured clone)`]: () => void (sink += serialize(events).length),
  [`decode ${BATCH} events (event-codec)`]: () => void (sink += decodeEvents(deserialize(encoded) as string).length),
  [`decode ${BATCH} events (structured clone)`]: () => void (sink += (deserialize(cloned) as unknown[]).length),
});
for (const result of results) process.stdout.write(`  ${result.name}: ${(1e6 / result.opsPerSecond).toFixed(1)} µs per batch\n`);
process.stdout.write(`  bytes per batch: ${encoded.length.toLocaleString('en')} encoded, ${cloned.length.toLocaleString('en')} cloned${sink < 0 ? '!' : ''}\n`);
