import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { History } from '../../src/history/history.js';
import { attachedHub, HOUR, DAY, makeEvent, publishAll, T0, tempHistory, WECHAT, written } from './fixtures.js';

let history: History;
let close: () => Promise<void>;
const MIN = 60_000;
const NOW = T0 + 30 * MIN;
const CN2 = [
  { ip: '203.0.113.20', country: 'CN', asn: 45090, org: null },
  { ip: '203.0.113.21', country: 'CN', asn: 45090, org: null },
];

beforeAll(async () => {
  ({ history, close } = await tempHistory());
  const events = [
    makeEvent({ ts: T0 - 2 * DAY, client: 'A', action: 'monitor' }), // before every window
    makeEvent({ ts: T0 - 3 * HOUR, client: 'A' }),
    makeEvent({ ts: T0 - 3 * HOUR + MIN, client: 'B', hosting: [...makeEvent().hosting, CN2[0]!] }),
    makeEvent({ ts: T0 - HOUR, client: 'A', app: WECHAT, action: 'monitor', hosting: CN2 }),
    makeEvent({ ts: T0 - 50 * MIN, client: 'B', app: WECHAT, action: 'monitor' }),
    makeEvent({ ts: T0 + 10 * MIN, client: 'A', app: WECHAT }),
    makeEvent({ ts: T0 + 20 * MIN, client: 'A', kind: 'residual' }), // repeats a block: counted only under kinds
    makeEvent({ ts: T0 + 25 * MIN, client: 'C', kind: 'query', app: null, action: 'allow', hosting: [{ ip: '192.0.2.1', country: 'NL', asn: 1136, org: null }] }),
    makeEvent({ ts: NOW, client: 'D' }), // the window's end is exclusive
  ];
  publishAll(attachedHub(history), events);
  await written(history, events.length);
});
afterAll(() => close());

describe('stats', () => {
  it('aggregates the last 24 hours', () => {
    const stats = history.stats('24h', NOW);
    expect(stats).toMatchObject({ window: '24h', since: NOW - 24 * HOUR, until: NOW });
    expect(stats.kinds).toEqual({ detection: 5, residual: 1, bypass: 0, query: 1 });
    expect(stats.actions).toEqual({ allow: 1, monitor: 2, block: 3, exempt: 0 });
    expect(stats.top_apps).toEqual([
      { id: 'wechat', name: 'WeChat', count: 3 },
      { id: 'tiktok', name: 'TikTok', count: 2 },
    ]);
    expect(stats.top_devices).toEqual([
      { client: 'A', count: 3 },
      { client: 'B', count: 2 },
      { client: 'C', count: 1 },
    ]);
    expect(stats.top_owner_countries).toEqual([{ country: 'CN', count: 5 }]);
    // An event with two addresses in one country counts once for it.
    expect(stats.top_hosting_countries).toEqual([
      { country: 'US', count: 4 },
      { country: 'CN', count: 2 },
      { country: 'NL', count: 1 },
    ]);
  });

  it('counts queries per action per hour with every hour of the window present', () => {
    const buckets = history.stats('24h', NOW).actions_per_hour;
    expect(buckets).toHaveLength(25);
    expect(buckets[0]).toEqual({ start: T0 - 24 * HOUR, allow: 0, monitor: 0, block: 0, exempt: 0 });
    expect(buckets.filter((bucket) => bucket.allow + bucket.monitor + bucket.block + bucket.exempt > 0)).toEqual([
      { start: T0 - 3 * HOUR, allow: 0, monitor: 0, block: 2, exempt: 0 },
      { start: T0 - HOUR, allow: 0, monitor: 2, block: 0, exempt: 0 },
      { start: T0, allow: 1, monitor: 0, block: 1, exempt: 0 },
    ]);
    expect(buckets.at(-1)!.start).toBe(T0);
  });

  it("counts one client's events only when asked for that client", () => {
    const stats = history.stats('24h', NOW, { client: 'A' });
    expect(stats.kinds).toEqual({ detection: 3, residual: 1, bypass: 0, query: 0 });
    expect(stats.actions).toEqual({ allow: 0, monitor: 1, block: 2, exempt: 0 });
    expect(stats.top_devices).toEqual([{ client: 'A', count: 3 }]);
    expect(stats.top_hosting_countries).toEqual([
      { country: 'US', count: 2 },
      { country: 'CN', count: 1 },
    ]);
    expect(stats.actions_per_hour.filter((bucket) => bucket.block + bucket.monitor > 0).map((bucket) => bucket.start)).toEqual([T0 - 3 * HOUR, T0 - HOUR, T0]);
    expect(history.stats('24h', NOW, { client: 'nobody' }).actions).toEqual({ allow: 0, monitor: 0, block: 0, exempt: 0 });
  });

  it('narrows to the last hour', () => {
    const stats = history.stats('1h', NOW);
    expect(stats.kinds).toEqual({ detection: 1, residual: 1, bypass: 0, query: 1 });
    expect(stats.actions).toEqual({ allow: 1, monitor: 0, block: 1, exempt: 0 });
    expect(stats.top_apps).toEqual([{ id: 'wechat', name: 'WeChat', count: 1 }]);
    expect(stats.actions_per_hour).toEqual([
      { start: T0 - HOUR, allow: 0, monitor: 0, block: 0, exempt: 0 },
      { start: T0, allow: 1, monitor: 0, block: 1, exempt: 0 },
    ]);
  });

  it('reaches back 7 days', () => {
    expect(history.stats('7d', NOW).kinds.detection).toBe(6);
    expect(history.stats('7d', NOW).actions_per_hour).toHaveLength(7 * 24 + 1);
  });
});

describe('stats of folded events', () => {
  let folded: History;
  let closeFolded: () => Promise<void>;
  beforeAll(async () => {
    ({ history: folded, close: closeFolded } = await tempHistory());
    folded.writeEvents([
      makeEvent({ id: 1, ts: T0 - HOUR, client: 'B' }),
      makeEvent({ id: 2, ts: T0, client: 'A', count: 5 }),
      makeEvent({ id: 3, ts: T0 + MIN, client: 'B', app: WECHAT, action: 'monitor', hosting: CN2, count: 3 }),
      makeEvent({ id: 4, ts: T0 + 2 * MIN, client: 'A', kind: 'residual', count: 4 }),
    ]);
  });
  afterAll(() => closeFolded());

  // Counting rows instead would rank B (two events) above A (one event of five queries).
  it('counts every query an event stands for', () => {
    const stats = folded.stats('24h', NOW);
    expect(stats.kinds).toEqual({ detection: 9, residual: 4, bypass: 0, query: 0 });
    expect(stats.actions).toEqual({ allow: 0, monitor: 3, block: 6, exempt: 0 });
    expect(stats.top_apps).toEqual([
      { id: 'tiktok', name: 'TikTok', count: 6 },
      { id: 'wechat', name: 'WeChat', count: 3 },
    ]);
    expect(stats.top_devices).toEqual([
      { client: 'A', count: 5 },
      { client: 'B', count: 4 },
    ]);
    expect(stats.top_owner_countries).toEqual([{ country: 'CN', count: 9 }]);
    expect(stats.top_hosting_countries).toEqual([
      { country: 'US', count: 6 },
      { country: 'CN', count: 3 },
    ]);
    expect(stats.actions_per_hour.filter((bucket) => bucket.block + bucket.monitor > 0)).toEqual([
      { start: T0 - HOUR, allow: 0, monitor: 0, block: 1, exempt: 0 },
      { start: T0, allow: 0, monitor: 3, block: 5, exempt: 0 },
    ]);
  });

  it('yields zeros and empty lists for a window without events', () => {
    const stats = folded.stats('1h', T0 - 2 * HOUR);
    expect(stats.kinds).toEqual({ detection: 0, residual: 0, bypass: 0, query: 0 });
    expect(stats.actions).toEqual({ allow: 0, monitor: 0, block: 0, exempt: 0 });
    expect(stats).toMatchObject({ top_apps: [], top_devices: [], top_owner_countries: [], top_hosting_countries: [] });
    expect(stats.actions_per_hour.every((bucket) => bucket.allow + bucket.monitor + bucket.block + bucket.exempt === 0)).toBe(true);
  });
});

describe('stats of one device', () => {
  it('counts the events of that device, whichever address it asked from', async () => {
    const { history: devices, close: closeDevices } = await tempHistory();
    try {
      devices.writeEvents([
        makeEvent({ id: 1, ts: T0, client: '10.0.0.1', device: 'ipad-12' }),
        makeEvent({ id: 2, ts: T0 + MIN, client: '10.0.0.9', device: 'ipad-12', app: WECHAT, action: 'exempt', count: 2 }),
        makeEvent({ id: 3, ts: T0 + MIN, client: '10.0.0.1', device: 'phone-7' }),
        makeEvent({ id: 4, ts: T0 + MIN, client: '10.0.0.1' }),
      ]);
      const stats = devices.stats('1h', NOW, { device: 'ipad-12' });
      expect(stats.actions).toEqual({ allow: 0, monitor: 0, block: 1, exempt: 2 });
      expect(stats.top_apps).toEqual([
        { id: 'wechat', name: 'WeChat', count: 2 },
        { id: 'tiktok', name: 'TikTok', count: 1 },
      ]);
      expect(stats.actions_per_hour.at(-1)).toEqual({ start: T0, allow: 0, monitor: 0, block: 1, exempt: 2 });
    } finally {
      await closeDevices();
    }
  });
});
