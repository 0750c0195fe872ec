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

  it('reads an event written before network attribution as attributed by name to its app\'s owner, or not at all', () => {
    const { attribution: _a, owner: _o, ...older } = sampleEvent();
    expect(eventOf(['1-0', ['id', '44', 'e', JSON.stringify(older)]])).toMatchObject({ attribution: 'name', owner: { name: 'ByteDance Ltd.', country: 'CN' } });
    const { attribution: _b, owner: _p, ...plain } = sampleEvent({ app: null });
    expect(eventOf(['1-0', ['id', '45', 'e', JSON.stringify(plain)]])).toMatchObject({ attribution: null, owner: null });
    const network = sampleEvent({ app: null, attribution: 'network', owner: { name: 'Yandex MKPAO', country: 'RU' } });
    expect(eventOf(['1-0', ['id', '46', 'e', JSON.stringify(network)]])).toEqual({ ...network, id: 46 });
  });

  it('ignores entries that are not events', () => {
    expect(eventOf(['1-0', ['id', '44']])).toBeNull();
    expect(eventOf(['1-0', ['id', '0', 'e', '{}']])).toBeNull();
    expect(eventOf(['1-0', ['id', '45', 'e', '{not json']])).toBeNull();
  });
});
