import { describe, expect, it } from 'vitest';
import { EventHub } from '../../src/events/event-hub.js';
import { Pseudonymiser } from '../../src/events/pseudonymiser.js';
import { sampleEvent } from '../support/events.js';

const KEY = 'k'.repeat(40);

function hub(pseudonymiser: Pseudonymiser | null = null, residualWindowMs = 60_000): EventHub {
  return new EventHub({ capacity: 1024, firstId: 42, residualWindowMs, pseudonymiser });
}

describe('EventHub', () => {
  it('continues numbering after the id it was given and wakes subscribers once per turn', async () => {
    const events = hub();
    let wakes = 0;
    const unsubscribe = events.subscribe({ wake: () => wakes++ });
    for (let i = 0; i < 5; i++) events.publish(sampleEvent({ action: 'allow', app: null }));
    expect(events.ring.nextId).toBe(47);
    await new Promise((resolve) => setImmediate(resolve));
    expect(wakes).toBe(1);
    unsubscribe();
    events.publish(sampleEvent());
    await new Promise((resolve) => setImmediate(resolve));
    expect(wakes).toBe(1);
  });

  it('replaces client addresses by stable keyed pseudonyms and reports each new one once', () => {
    const seen: [string, string][] = [];
    const events = hub(new Pseudonymiser(KEY, (pseudonym, address) => seen.push([pseudonym, address])));
    events.publish(sampleEvent({ client: '10.64.3.7' }));
    events.publish(sampleEvent({ client: '10.64.3.7' }));
    events.publish(sampleEvent({ client: '10.64.3.8' }));
    const [a, b, c] = [42, 43, 44].map((id) => events.ring.get(id)!.client);
    expect(a).toMatch(/^p:[0-9a-f]{24}$/);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(seen).toEqual([
      [a, '10.64.3.7'],
      [c, '10.64.3.8'],
    ]);
    expect(new Pseudonymiser(KEY).of('10.64.3.7')).toBe(a);
    expect(new Pseudonymiser('x'.repeat(40)).of('10.64.3.7')).not.toBe(a);
  });

  it('pseudonymises device ids like client addresses, and leaves a missing device missing', () => {
    const events = hub(new Pseudonymiser(KEY));
    events.publish(sampleEvent({ client: '10.64.3.7', device: 'phone-7' }));
    events.publish(sampleEvent({ client: '10.64.3.7', device: null }));
    const [withDevice, without] = [42, 43].map((id) => events.ring.get(id)!);
    expect(withDevice!.device).toMatch(/^p:[0-9a-f]{24}$/);
    expect(withDevice!.device).toBe(new Pseudonymiser(KEY).of('phone-7'));
    expect(withDevice!.device).not.toBe(withDevice!.client);
    expect(without!.device).toBeNull();
  });

  it('refuses a short pseudonym key', () => {
    expect(() => new Pseudonymiser('short')).toThrow(/at least 32/);
  });

  it('adds one residual event per device and app for each window in which blocks continue', () => {
    const events = hub(null, 1000);
    const t0 = Date.UTC(2026, 0, 1);
    const block = (ts: number, client = '10.0.0.1') => events.publish(sampleEvent({ ts, client, action: 'block' }));
    block(t0);
    block(t0 + 500);
    block(t0 + 1200);
    block(t0 + 1300);
    block(t0 + 1300, '10.0.0.2');
    block(t0 + 2300);
    const kinds = [];
    for (let id = events.ring.oldestId; id < events.ring.nextId; id++) kinds.push(events.ring.get(id)!.kind);
    expect(kinds).toEqual(['detection', 'detection', 'detection', 'residual', 'detection', 'detection', 'detection', 'residual']);
    const residual = events.ring.get(45)!;
    expect(residual).toMatchObject({ kind: 'residual', client: '10.0.0.1', app: { id: 'tiktok' }, ts: t0 + 1200 });
  });

  it('never derives residual events from monitored or exempted queries', () => {
    const events = hub(null, 1);
    for (let i = 0; i < 5; i++) events.publish(sampleEvent({ ts: i * 10, action: i % 2 === 0 ? 'monitor' : 'exempt' }));
    expect(events.ring.nextId - events.ring.oldestId).toBe(5);
  });
});
