import { describe, expect, it } from 'vitest';
import { EventRing } from '../../src/events/event-ring.js';
import { sampleEvent } from '../support/events.js';

describe('EventRing', () => {
  it('numbers events consecutively from the first id', () => {
    const ring = new EventRing(4, 100);
    for (let i = 0; i < 3; i++) ring.push(sampleEvent());
    expect([ring.oldestId, ring.nextId]).toEqual([100, 103]);
    expect(ring.get(101)?.id).toBe(101);
    expect(ring.get(103)).toBeUndefined();
    expect(ring.get(99)).toBeUndefined();
  });

  it('overwrites the oldest events when full and forgets them', () => {
    const ring = new EventRing(4, 1);
    for (let i = 0; i < 10; i++) ring.push(sampleEvent({ qname: `n${i}.example` }));
    expect(ring.oldestId).toBe(7);
    expect(ring.get(6)).toBeUndefined();
    expect(ring.get(7)?.qname).toBe('n6.example');
    expect(ring.get(10)?.qname).toBe('n9.example');
  });

  it('serialises an event once and drops the cached text when its slot is reused', () => {
    const ring = new EventRing(2, 1);
    ring.push(sampleEvent({ qname: 'first.example' }));
    const json = ring.jsonOf(1)!;
    expect(JSON.parse(json)).toMatchObject({ id: 1, qname: 'first.example' });
    expect(ring.jsonOf(1)).toBe(json);
    ring.push(sampleEvent());
    ring.push(sampleEvent({ qname: 'third.example' }));
    expect(ring.jsonOf(1)).toBeUndefined();
    expect(JSON.parse(ring.jsonOf(3)!)).toMatchObject({ id: 3, qname: 'third.example' });
  });
});
