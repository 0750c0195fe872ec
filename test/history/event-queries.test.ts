import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DetectionEvent } from '../../src/events/detection-event.js';
import { History, type EventFilter } from '../../src/history/history.js';
import { attachedHub, HOUR, makeEvent, publishAll, T0, tempHistory, TELEGRAM, WECHAT, written } from './fixtures.js';

let history: History;
let close: () => Promise<void>;
let published: DetectionEvent[];

const EVENTS = [
  /* 1 */ makeEvent({ ts: T0 - 3 * HOUR }),
  /* 2 */ makeEvent({ ts: T0 - 2 * HOUR, client: '10.64.0.8', action: 'monitor', group: null }),
  /* 3 */ makeEvent({ ts: T0 - HOUR, app: WECHAT, qname: 'long.weixin.qq.com', matched_name: 'weixin.qq.com', hosting: [{ ip: '203.0.113.9', country: 'CN', asn: 45090, org: 'Tencent' }] }),
  /* 4 */ makeEvent({ ts: T0, app: TELEGRAM, qname: 'Venus.Web.Telegram.org', matched_name: 'telegram.org', action: 'exempt', exemption: 'press' }),
  /* 5 */ makeEvent({ ts: T0 + HOUR, kind: 'query', app: null, qname: 'xtiktokv.com', action: 'allow', hosting: [] }),
  /* 6 */ makeEvent({
    ts: T0 + 2 * HOUR,
    client: '10.64.0.9', // another device: a repeat block by .7 would add a residual event
    qname: 'tiktokv.com',
    hosting: [
      { ip: '203.0.113.10', country: 'RU', asn: 64501, org: null },
      { ip: '203.0.113.11', country: 'CN', asn: 64502, org: null },
    ],
  }),
];

beforeAll(async () => {
  ({ history, close } = await tempHistory());
  published = publishAll(attachedHub(history), EVENTS);
  await written(history, EVENTS.length);
});
afterAll(() => close());

const ids = (filter: Partial<EventFilter>): number[] => history.events({ limit: 100, ...filter }).items.map((event) => event.id);

describe('event queries', () => {
  it('returns everything newest first without filters', () => {
    expect(ids({})).toEqual([6, 5, 4, 3, 2, 1]);
    expect(history.events({ limit: 100 }).items[0]).toEqual(published[5]);
  });

  it.each<[string, Partial<EventFilter>, number[]]>([
    ['kind', { kind: 'query' }, [5]],
    ['action', { action: 'block' }, [6, 3, 1]],
    ['app', { app: 'wechat' }, [3]],
    ['group', { group: 'ministry' }, [6, 5, 4, 3, 1]],
    ['client', { client: '10.64.0.8' }, [2]],
    ['owner country, any case', { owner_country: 'ae' }, [4]],
    ['hosting country: any of the addresses', { hosting_country: 'CN' }, [6, 3]],
    ['hosting country: lower case', { hosting_country: 'ru' }, [6]],
    ['qname: the name and names below it, not look-alikes', { qname: 'tiktokv.com' }, [6, 2, 1]],
    ['qname: any case, trailing dot', { qname: 'TELEGRAM.org.' }, [4]],
    ['qname: exact name only when nothing is below it', { qname: 'xtiktokv.com' }, [5]],
    ['since is inclusive', { since: T0 }, [6, 5, 4]],
    ['until is exclusive', { until: T0 }, [3, 2, 1]],
    ['since and until', { since: T0 - 2 * HOUR, until: T0 + HOUR }, [4, 3, 2]],
    ['filters combine with AND', { action: 'block', hosting_country: 'CN', since: T0 }, [6]],
    ['no match', { app: 'signal' }, []],
  ])('filters by %s', (_name, filter, expected) => {
    expect(ids(filter)).toEqual(expected);
  });

  it('pages by id with a cursor until the last page', () => {
    const pages: number[][] = [];
    let before: number | undefined;
    for (;;) {
      const page = history.events({ limit: 4, before_id: before });
      pages.push(page.items.map((event) => event.id));
      if (page.next_before_id === null) break;
      before = page.next_before_id;
    }
    expect(pages).toEqual([[6, 5, 4, 3], [2, 1]]);
  });

  it('ends without an empty page when the last page is exactly full', () => {
    const first = history.events({ limit: 3 });
    expect(first.next_before_id).toBe(4);
    const second = history.events({ limit: 3, before_id: 4 });
    expect(second.items.map((event) => event.id)).toEqual([3, 2, 1]);
    expect(second.next_before_id).toBeNull();
  });

  it('pages within a filter', () => {
    const first = history.events({ limit: 2, action: 'block' });
    expect(first.items.map((event) => event.id)).toEqual([6, 3]);
    expect(first.next_before_id).toBe(3);
    expect(ids({ limit: 2, action: 'block', before_id: 3 })).toEqual([1]);
  });
});
