import { describe, expect, it } from 'vitest';
import { EVENT_ACTIONS, EVENT_KINDS, type DetectionEvent } from '../../src/events/detection-event.js';
import { decodeEvents, encodeEvents } from '../../src/events/event-codec.js';
import { sampleEvent } from '../support/events.js';

describe('event codec (worker → primary)', () => {
  const events: DetectionEvent[] = [
    sampleEvent(),
    sampleEvent({
      kind: 'bypass',
      app: null,
      matched_name: null,
      rule: null,
      group: 'inspectie',
      exemption: 'criminal investigation until 2027-01-01',
      qname: 'we\\"ird\\032näme.example.',
      hosting: [
        { ip: '203.0.113.7', country: 'CN', asn: 4134, org: 'Chinanet' },
        { ip: '2001:db8::1', country: null, asn: null, org: null },
      ],
      hosting_watchlisted: true,
      owner_watchlisted: false,
      latency_ms: 12.345,
      cached: true,
    }),
    ...EVENT_KINDS.flatMap((kind) => EVENT_ACTIONS.map((action) => sampleEvent({ kind, action }))),
  ];

  it('gives back every field of every event, in the published field order', () => {
    const decoded = decodeEvents(encodeEvents(events.map((event) => ({ ...event, id: 99 }))));
    expect(decoded).toEqual(events.map((event) => ({ ...event, id: 0 })));
    // The hub serialises each event once and the history compares JSON text: key order matters.
    expect(decoded.map((event) => JSON.stringify(event))).toEqual(events.map((event) => JSON.stringify({ ...event, id: 0 })));
  });

  it('is shorter than the events as JSON objects', () => {
    expect(encodeEvents(events).length).toBeLessThan(JSON.stringify(events).length * 0.6);
  });

  it('handles an empty batch and refuses text that is not a batch', () => {
    expect(decodeEvents(encodeEvents([]))).toEqual([]);
    expect(() => decodeEvents('{"type":"events"}')).toThrow(/JSON array/);
  });
});
