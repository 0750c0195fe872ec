import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { DetectionEvent } from '../../src/events/detection-event.js';
import { EventHub } from '../../src/events/event-hub.js';
import { History } from '../../src/history/history.js';
import { ScaleOut, type SharedPolicy } from '../../src/scaleout/scale-out.js';
import { sampleEvent } from '../support/events.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const log = pino({ level: 'silent' });
let redis: RedisServer;
let dir: string;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  redis = await startRedis();
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-scaleout-'));
}, 20_000);
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

let streams = 0;

/** One instance's SOC side: a hub joined to the shared stream, optionally keeping history. */
async function instance(name: string, stream: string, options: { history?: boolean; onPolicy?: (shared: SharedPolicy) => void } = {}) {
  const config = loadConfig({
    text: `instance: ${name}\nredis: { url: "${redis.url}", stream: "${stream}", buffer: 1000 }\nhistory: { path: "${join(dir, `${stream}-${name}.sqlite`)}" }`,
    overrides: { upstream: ['127.0.0.1:1'] },
  });
  const history = options.history ? History.open(config.history, log) : null;
  let hub: EventHub | null = null;
  const scaleOut = await ScaleOut.connect(config, name, log, () => Math.max(history?.maxId() ?? 0, (hub?.ring.nextId ?? 1) - 1));
  hub = new EventHub({ capacity: 4096, firstId: 1, residualWindowMs: 60_000, pseudonymiser: null, forward: scaleOut.publisher });
  scaleOut.follow(hub, 100, history, options.onPolicy ?? (() => {}));
  cleanups.push(async () => {
    await scaleOut.close();
    await history?.close();
  });
  return { config, hub: hub as EventHub, history, scaleOut };
}

function held(hub: EventHub): DetectionEvent[] {
  const events = [];
  for (let id = hub.ring.oldestId; id < hub.ring.nextId; id++) {
    const event = hub.ring.get(id);
    if (event !== undefined) events.push(event);
  }
  return events;
}

async function until(test: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('several instances over Redis', () => {
  it("shows every instance's events in every feed hub, numbered consecutively in one order", async () => {
    const stream = `s${streams++}`;
    const a = await instance('dc1-a', stream);
    const b = await instance('dc2-b', stream);
    for (let i = 0; i < 50; i++) {
      a.hub.publish(sampleEvent({ instance: 'dc1-a', qname: `a${i}.tiktokv.com` }));
      b.hub.publish(sampleEvent({ instance: 'dc2-b', qname: `b${i}.tiktokv.com` }));
    }
    await until(() => held(a.hub).length === 100 && held(b.hub).length === 100, 'both hubs to hold 100 events');
    const seenByA = held(a.hub);
    expect(seenByA.map((event) => event.id)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(held(b.hub).map((event) => `${event.id} ${event.qname}`)).toEqual(seenByA.map((event) => `${event.id} ${event.qname}`));
    expect(seenByA.filter((event) => event.instance === 'dc2-b')).toHaveLength(50);
  });

  it('writes each event to exactly one history across the instances that keep one', async () => {
    const stream = `s${streams++}`;
    const a = await instance('dc1-a', stream, { history: true });
    const b = await instance('dc2-b', stream, { history: true });
    for (let i = 0; i < 300; i++) (i % 2 === 0 ? a : b).hub.publish(sampleEvent({ qname: `n${i}.tiktokv.com` }));
    const stored = () => a.history!.counters.written + b.history!.counters.written;
    await until(() => stored() >= 300, 'the histories to hold 300 events');
    const ids = [...pageIds(a.history!), ...pageIds(b.history!)].sort((x, y) => x - y);
    expect(ids).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  });

  it('buffers events while Redis is down, reports itself degraded, and delivers them when it returns', async () => {
    const stream = `s${streams++}`;
    const a = await instance('dc1-a', stream);
    a.hub.publish(sampleEvent({ qname: 'before.tiktokv.com' }));
    await until(() => held(a.hub).length === 1, 'the first event');
    await redis.kill();
    await until(() => a.scaleOut.degraded().length > 0, 'the outage to be noticed');
    for (let i = 0; i < 20; i++) a.hub.publish(sampleEvent({ qname: `during${i}.tiktokv.com` }));
    expect(a.scaleOut.publisher.pending).toBe(20);
    expect(a.scaleOut.degraded().join()).toMatch(/redis unreachable: 20 events waiting/);
    await redis.start();
    // Redis came back empty (no persistence): numbering goes on from where this hub is.
    await until(() => a.scaleOut.degraded().length === 0 && a.scaleOut.publisher.pending === 0, 'the buffer to drain', 15_000);
    await until(() => held(a.hub).length >= 21, 'the buffered events to come back through the stream', 15_000);
    expect(held(a.hub).map((event) => event.qname)).toEqual(['before.tiktokv.com', ...Array.from({ length: 20 }, (_, i) => `during${i}.tiktokv.com`)]);
  }, 40_000);

  it('writes the history again after Redis restarts empty, the consumer group made anew', async () => {
    const stream = `s${streams++}`;
    const a = await instance('dc1-a', stream, { history: true });
    for (let i = 0; i < 10; i++) a.hub.publish(sampleEvent({ qname: `before${i}.tiktokv.com` }));
    await until(() => a.history!.counters.written === 10, 'the first events to be stored');
    await redis.kill();
    await redis.start();
    // The new Redis has neither the stream nor the group; the consumer must make the group again.
    await until(() => a.scaleOut.degraded().length === 0, 'the links to come back', 15_000);
    for (let i = 0; i < 10; i++) a.hub.publish(sampleEvent({ qname: `after${i}.tiktokv.com` }));
    await until(() => a.history!.counters.written === 20, 'the events after the restart to be stored', 15_000);
    const names = a.history!.events({ limit: 100 }).items.map((event) => event.qname);
    expect(names.filter((name) => name.startsWith('after'))).toHaveLength(10);
    expect(new Set(pageIds(a.history!)).size).toBe(20);
  }, 40_000);

  it('reports the history degraded while the stream holds entries it has not stored, and catches up', async () => {
    const stream = `s${streams++}`;
    const admin = new Redis(redis.url);
    cleanups.push(async () => void admin.disconnect());
    // Three entries from long ago (explicit ids: milliseconds since the epoch), not yet stored.
    for (let id = 1; id <= 3; id++) await admin.xadd(stream, `${id}-1`, 'id', String(id), 'e', JSON.stringify(sampleEvent({ qname: `old${id}.tiktokv.com` })));
    const a = await instance('dc1-a', stream, { history: true });
    // Another connection takes the history's write lock before the consumer's first read
    // (which needs Redis round trips), so the consumer cannot store them.
    const lock = new Database(join(dir, `${stream}-dc1-a.sqlite`));
    lock.exec('BEGIN EXCLUSIVE');
    try {
      await until(() => a.scaleOut.degraded().some((reason) => /^history lags: 3 events in the stream not yet stored, the oldest \d+ s old$/.test(reason)), 'the lag to be reported');
      lock.exec('COMMIT');
      await until(() => a.history!.counters.written === 3, 'the backlog to be stored');
      await until(() => a.scaleOut.degraded().length === 0, 'the lag to clear');
    } finally {
      if (lock.inTransaction) lock.exec('ROLLBACK');
      lock.close();
    }
  }, 30_000);

  it('drops the oldest buffered events, counted, when an outage outlasts the buffer', async () => {
    const stream = `s${streams++}`;
    const a = await instance('dc1-a', stream);
    await redis.kill();
    await until(() => a.scaleOut.degraded().length > 0, 'the outage to be noticed');
    for (let i = 0; i < 1500; i++) a.hub.publish(sampleEvent());
    expect(a.scaleOut.publisher.pending).toBeLessThanOrEqual(1000);
    expect(a.scaleOut.publisher.counters.dropped + a.scaleOut.publisher.pending).toBe(1500);
    await redis.start();
  }, 30_000);

  it('shares a policy accepted on one instance with the others', async () => {
    const stream = `s${streams++}`;
    const received: SharedPolicy[] = [];
    const a = await instance('dc1-a', stream);
    await instance('dc2-b', stream, { onPolicy: (shared) => received.push(shared) });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const enforce = loadConfig({ text: 'mode: enforce\npolicy:\n  block_apps: [temu]', overrides: { upstream: ['127.0.0.1:1'] } });
    expect(await a.scaleOut.sharePolicy(enforce)).toBe(true);
    await until(() => received.length > 0, 'the policy to reach the other instance');
    expect(received[0]).toMatchObject({ mode: 'enforce', from: 'dc1-a', policy: { block_apps: ['temu'] } });
  });
});

function pageIds(history: History): number[] {
  return history.events({ limit: 1000 }).items.map((event) => event.id);
}
