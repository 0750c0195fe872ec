import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { History } from '../../src/history/history.js';
import { attachedHub, makeEvent, publishAll, T0, tempHistory, TELEGRAM, TIKTOK, WECHAT, written } from './fixtures.js';

let history: History;
let close: () => Promise<void>;
beforeEach(async () => {
  ({ history, close } = await tempHistory());
});
afterEach(() => close());

describe('device inventory', () => {
  it('upserts per device and app across batches: first and last seen, count, latest names', async () => {
    const hub = attachedHub(history);
    publishAll(hub, [makeEvent({ ts: T0 + 1000, action: 'monitor' }), makeEvent({ ts: T0 + 3000, action: 'monitor' })]);
    await written(history, 2);
    publishAll(hub, [
      makeEvent({ ts: T0 + 2000, action: 'monitor', app: { ...TIKTOK, name: 'TikTok Lite' } }),
      makeEvent({ ts: T0 + 5000, app: WECHAT }),
      makeEvent({ ts: T0 + 6000, kind: 'residual' }),
      makeEvent({ ts: T0 + 7000, kind: 'query', app: null, action: 'allow' }),
      makeEvent({ ts: T0, client: '10.64.0.99', app: TELEGRAM, action: 'monitor' }),
    ]);
    await written(history, 7);
    expect(history.counters.batches).toBe(2);

    expect(history.deviceApps('10.64.0.7')).toEqual([
      { ...WECHAT, first_seen: T0 + 5000, last_seen: T0 + 5000, count: 1 },
      { ...TIKTOK, name: 'TikTok Lite', first_seen: T0 + 1000, last_seen: T0 + 3000, count: 3 },
    ]);
    expect(history.deviceApps('10.64.0.99')).toEqual([{ ...TELEGRAM, first_seen: T0, last_seen: T0, count: 1 }]);
    expect(history.deviceApps('10.64.0.100')).toEqual([]);
  });

  it('adds every query an event stands for to the count', () => {
    history.writeEvents([makeEvent({ id: 1, ts: T0, count: 5 }), makeEvent({ id: 2, ts: T0 + 1000, count: 2 })]);
    history.writeEvents([makeEvent({ id: 3, ts: T0 + 2000, count: 3 }), makeEvent({ id: 4, ts: T0 + 3000, kind: 'residual', count: 7 })]);
    expect(history.deviceApps('10.64.0.7')).toEqual([{ ...TIKTOK, first_seen: T0, last_seen: T0 + 2000, count: 10 }]);
  });

  it('lists devices by latest activity with their number of apps', async () => {
    publishAll(attachedHub(history), [
      makeEvent({ ts: T0, client: 'old', action: 'monitor' }),
      makeEvent({ ts: T0 + 10, client: 'new', action: 'monitor' }),
      makeEvent({ ts: T0 + 20, client: 'new', app: WECHAT, action: 'monitor' }),
      makeEvent({ ts: T0 + 30, client: 'appless', app: null }),
    ]);
    await written(history, 4);
    expect(history.devices(10)).toEqual([
      { client: 'new', last_address: 'new', apps: 2, last_seen: T0 + 20 },
      { client: 'old', last_address: 'old', apps: 1, last_seen: T0 },
    ]);
    expect(history.devices(1)).toEqual([{ client: 'new', last_address: 'new', apps: 2, last_seen: T0 + 20 }]);
  });

  it('keys an identified device by its id, whatever pool address it came from, and keeps the latest address', async () => {
    publishAll(attachedHub(history), [
      makeEvent({ ts: T0, client: '10.64.0.7', device: 'phone-1', action: 'monitor' }),
      makeEvent({ ts: T0 + 10, client: '10.64.0.8', device: 'phone-1', app: WECHAT, action: 'monitor' }),
      // The next phone to get the pool address is another device.
      makeEvent({ ts: T0 + 20, client: '10.64.0.7', device: 'phone-2', action: 'monitor' }),
    ]);
    await written(history, 3);
    expect(history.devices(10)).toEqual([
      { client: 'phone-2', last_address: '10.64.0.7', apps: 1, last_seen: T0 + 20 },
      { client: 'phone-1', last_address: '10.64.0.8', apps: 2, last_seen: T0 + 10 },
    ]);
    expect(history.deviceApps('phone-1').map((app) => app.id)).toEqual(['wechat', 'tiktok']);
    expect(history.deviceApps('10.64.0.7')).toEqual([]);
    expect(history.events({ device: 'phone-1', limit: 10 }).items.map((event) => event.client)).toEqual(['10.64.0.8', '10.64.0.7']);
  });
});
