import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { History } from '../../src/history/history.js';
import { attachedHub, makeEvent, publishAll, T0, tempHistory, WECHAT, written } from './fixtures.js';

const DAY_MS = 86_400_000;

let history: History;
let close: () => Promise<void>;
beforeEach(async () => {
  ({ history, close } = await tempHistory());
});
afterEach(() => close());

describe("a device's addresses over time", () => {
  it('keeps each address an identified device asked from, first and last seen and queries, across batches', async () => {
    const hub = attachedHub(history);
    publishAll(hub, [
      makeEvent({ ts: T0, client: '10.64.0.7', device: 'phone-1', count: 3 }),
      makeEvent({ ts: T0 + 10, client: '10.64.0.7', device: 'phone-1', app: WECHAT }),
      makeEvent({ ts: T0 + 20, client: '10.64.0.7', device: 'phone-2' }),
      makeEvent({ ts: T0 + 30, client: '10.64.0.9' }),
    ]);
    await written(history, 4);
    // The next day phone-1 has another pool address; a residual event counts as asking too.
    publishAll(hub, [makeEvent({ ts: T0 + DAY_MS, client: '10.64.1.4', device: 'phone-1', kind: 'residual' })]);
    await written(history, 5);
    expect(history.addressesOf('phone-1')).toEqual([
      { address: '10.64.1.4', first_seen: T0 + DAY_MS, last_seen: T0 + DAY_MS, count: 1 },
      { address: '10.64.0.7', first_seen: T0, last_seen: T0 + 10, count: 4 },
    ]);
    expect(history.addressesOf('phone-2')).toEqual([{ address: '10.64.0.7', first_seen: T0 + 20, last_seen: T0 + 20, count: 1 }]);
    // Queries without a device id are no device's.
    expect(history.addressesOf('10.64.0.9')).toEqual([]);
  });

  it('are purged with the detection retention, each address on its own', async () => {
    publishAll(attachedHub(history), [
      makeEvent({ ts: T0 - 100 * DAY_MS, client: '10.64.0.7', device: 'phone-1' }),
      makeEvent({ ts: T0 - DAY_MS, client: '10.64.0.8', device: 'phone-1' }),
    ]);
    await written(history, 2);
    expect((await history.purge(T0))?.device_addresses).toBe(1);
    expect(history.addressesOf('phone-1').map((entry) => entry.address)).toEqual(['10.64.0.8']);
  });
});
