import { describe, expect, it } from 'vitest';
import { EventBatcher, type EventBatchMessage } from '../../src/events/event-batcher.js';
import { sampleEvent } from '../support/events.js';

describe('EventBatcher', () => {
  it('sends full batches at once and the rest on flush, in order', async () => {
    const sent: EventBatchMessage[] = [];
    const batcher = new EventBatcher({ maxPending: 3, intervalMs: 60_000, send: (message, done) => (sent.push(message), done(), true) });
    for (let i = 0; i < 7; i++) batcher.publish(sampleEvent({ qname: `n${i}` }));
    expect(sent.map((batch) => batch.events.length)).toEqual([3, 3]);
    await batcher.close();
    expect(sent.flatMap((batch) => batch.events.map((event) => event.qname))).toEqual(['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6']);
  });

  it('drops and counts events while the channel holds too many batches, and reports the drops', async () => {
    const waiting: (() => void)[] = [];
    const sent: EventBatchMessage[] = [];
    const batcher = new EventBatcher({ maxPending: 2, intervalMs: 60_000, send: (message, done) => (sent.push(message), waiting.push(done), false) });
    for (let i = 0; i < 20; i++) batcher.publish(sampleEvent());
    expect(batcher.dropped).toBeGreaterThan(0);
    const kept = sent.reduce((sum, batch) => sum + batch.events.length, 0);
    expect(kept).toBeLessThanOrEqual(8);
    for (const done of waiting.splice(0)) done();
    batcher.publish(sampleEvent());
    const closing = batcher.close();
    for (const done of waiting.splice(0)) done();
    await closing;
    expect(sent.at(-1)!.dropped).toBe(batcher.dropped);
  });
});
