import { describe, expect, it } from 'vitest';
import { eventOf } from '../../src/scaleout/stream-entries.js';
import { sampleEvent } from '../support/events.js';

describe('eventOf', () => {
  it('takes the cluster-wide id from the entry and keeps the count', () => {
    expect(eventOf(['1-0', ['id', '42', 'e', JSON.stringify(sampleEvent({ count: 7 }))]])).toMatchObject({ id: 42, count: 7 });
  });

  it('reads an event written before repeats were folded as one query', () => {
    const { count: _, ...older } = sampleEvent();
    expect(eventOf(['1-0', ['id', '43', 'e', JSON.stringify(older)]])).toMatchObject({ id: 43, count: 1 });
  });

  it('ignores entries that are not events', () => {
    expect(eventOf(['1-0', ['id', '44']])).toBeNull();
    expect(eventOf(['1-0', ['id', '0', 'e', '{}']])).toBeNull();
    expect(eventOf(['1-0', ['id', '45', 'e', '{not json']])).toBeNull();
  });
});
