import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { History } from '../../src/history/history.js';
import { attachedHub, DAY, makeEvent, publishAll, T0, tempHistory, TELEGRAM, TIKTOK, WECHAT, written } from './fixtures.js';

let history: History;
let close: () => Promise<void>;
beforeEach(async () => {
  ({ history, close } = await tempHistory());
});
afterEach(() => close());

const NOW = T0 + 14 * DAY;
const watched = { owner_watchlisted: true } as const;

describe('exposure per group', () => {
  it('counts devices, watch-listed use, actions and top apps for the period and the one before', async () => {
    publishAll(attachedHub(history), [
      // This week, group ministry: two devices used TikTok (one identified, one by address), a third only plain names.
      makeEvent({ ts: NOW - DAY, group: 'ministry', device: 'phone-1', client: '10.64.0.7', app: TIKTOK, action: 'block', count: 3, ...watched }),
      makeEvent({ ts: NOW - 2 * DAY, group: 'ministry', device: null, client: '10.64.0.8', app: TIKTOK, action: 'block', ...watched }),
      makeEvent({ ts: NOW - 2 * DAY, group: 'ministry', device: 'phone-1', client: '10.64.0.9', app: WECHAT, action: 'monitor', ...watched }),
      makeEvent({ ts: NOW - 3 * DAY, group: 'ministry', device: 'phone-3', kind: 'query', app: null, action: 'allow', owner_watchlisted: false }),
      // A residual event repeats a counted block: left out everywhere.
      makeEvent({ ts: NOW - DAY, group: 'ministry', device: 'phone-9', kind: 'residual', app: TIKTOK, action: 'block', ...watched }),
      // Group inspection: an exemption; Telegram's owner is not watch-listed.
      makeEvent({ ts: NOW - DAY, group: 'inspection', device: 'phone-5', app: TIKTOK, action: 'exempt', exemption: 'onderzoek', ...watched }),
      makeEvent({ ts: NOW - DAY, group: 'inspection', device: 'phone-5', app: TELEGRAM, action: 'allow', owner_watchlisted: false }),
      // No group.
      makeEvent({ ts: NOW - DAY, group: null, device: null, client: '10.99.0.1', app: TIKTOK, action: 'monitor', ...watched }),
      // The week before: ministry had three devices on TikTok.
      ...['10.64.1.1', '10.64.1.2', '10.64.1.3'].map((client) => makeEvent({ ts: NOW - 10 * DAY, group: 'ministry', device: null, client, app: TIKTOK, action: 'monitor', ...watched })),
      // Older than both periods.
      makeEvent({ ts: NOW - 20 * DAY, group: 'ministry', client: '10.64.2.1', app: TIKTOK, ...watched }),
    ]);
    await written(history, 12);
    const exposure = history.exposure(7, NOW);
    expect(exposure).toMatchObject({ days: 7, since: NOW - 7 * DAY, until: NOW, previous_since: NOW - 14 * DAY });
    expect(exposure.groups.map((group) => group.group)).toEqual(['inspection', 'ministry', null]);
    const [inspection, ministry, none] = exposure.groups;
    expect(ministry).toEqual({
      group: 'ministry',
      devices: 3,
      devices_watchlisted: 2,
      queries: { allow: 1, monitor: 1, block: 4, exempt: 0 },
      queries_watchlisted: 5,
      top_apps: [
        { id: 'tiktok', name: 'TikTok', owner_country: 'CN', devices: 2, queries: 4 },
        { id: 'wechat', name: 'WeChat', owner_country: 'CN', devices: 1, queries: 1 },
      ],
      previous: { devices: 3, devices_watchlisted: 3, queries: { allow: 0, monitor: 3, block: 0, exempt: 0 }, queries_watchlisted: 3 },
    });
    expect(inspection).toMatchObject({ devices: 1, devices_watchlisted: 1, queries: { allow: 1, monitor: 0, block: 0, exempt: 1 }, queries_watchlisted: 1 });
    expect(inspection!.top_apps.map((app) => app.id)).toEqual(['tiktok']);
    expect(none).toMatchObject({ devices: 1, devices_watchlisted: 1, queries: { monitor: 1 }, previous: { devices: 0 } });
  });

  it('is empty without events', () => {
    expect(history.exposure(30, NOW).groups).toEqual([]);
  });
});
