import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ID_BLOCK } from '../../src/events/id-store.js';
import { History } from '../../src/history/history.js';
import { allEvents, attachedHub, historySettings, makeEvent, publishAll, silentLog, T0, tempDir, TELEGRAM, written } from './fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
let path: string;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  path = join(dir, 'history.sqlite');
});
afterEach(() => cleanup());

const open = (): History => History.open(historySettings(path), silentLog);

/** Events covering every field's variants: nulls, several hostings, booleans both ways, folded repeats. */
const VARIED = [
  makeEvent(),
  makeEvent({
    kind: 'query',
    client: 'fd00::7',
    group: null,
    qname: 'Example.NL.',
    qtype: 'AAAA',
    app: null,
    matched_name: null,
    hosting: [],
    owner_watchlisted: false,
    action: 'allow',
    rule: null,
    latency_ms: 0,
    cached: true,
  }),
  makeEvent({
    app: TELEGRAM,
    action: 'exempt',
    exemption: 'press-office until 2025-06-30',
    hosting: [
      { ip: '149.154.167.91', country: 'GB', asn: 62041, org: 'Telegram Messenger Inc' },
      { ip: '2001:db8::1', country: null, asn: null, org: null },
    ],
    hosting_watchlisted: true,
    latency_ms: 3.25,
    count: 5,
  }),
  makeEvent({ kind: 'bypass', qname: 'dns.google', app: null, matched_name: 'dns.google', action: 'monitor', rule: 'bypass' }),
];

describe('History writing', () => {
  it('stores every event the hub publishes and reads it back identical, JSON text included', async () => {
    const history = open();
    const hub = attachedHub(history);
    const published = publishAll(hub, VARIED);
    await written(history, VARIED.length);
    const stored = allEvents(history);
    expect(stored).toEqual(published);
    expect(stored.map((event) => JSON.stringify(event))).toEqual(published.map((event) => JSON.stringify(event)));
    expect(stored.map((event) => event.id)).toEqual([1, 2, 3, 4]);
    expect(stored.map((event) => event.count)).toEqual([1, 1, 5, 1]);
    expect(history.counters).toEqual({ written: 4, lost: 0, batches: 1, failures: 0, backlog: 0 });
    await history.close();
  });

  it('batches: events of one turn go out together after the batch delay', async () => {
    const history = open();
    const hub = attachedHub(history);
    publishAll(hub, VARIED);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(history.counters.written).toBe(0);
    await written(history, 4);
    expect(history.counters.batches).toBe(1);
    await history.close();
  });

  it('close() writes what is still pending, however much, so a graceful restart loses nothing', async () => {
    const history = open();
    const hub = attachedHub(history);
    publishAll(hub, Array.from({ length: 2500 }, (_, i) => makeEvent({ ts: T0 + i, action: 'monitor' })));
    await history.close();
    expect(history.counters).toMatchObject({ written: 2500, lost: 0, batches: 3 });

    const reopened = open();
    expect(reopened.maxId()).toBe(2500);
    const page = reopened.events({ limit: 1 });
    expect(page.items[0]!.id).toBe(2500);
    expect(page.items[0]!.ts).toBe(T0 + 2499);
    await reopened.close();
  });

  it('events survive close and reopen, and a hub restarted after a graceful stop continues the numbering', async () => {
    const first = open();
    const hub = attachedHub(first);
    const before = publishAll(hub, VARIED.slice(0, 2));
    // As serve stops: the ids reserved beyond the last one handed out are given back.
    first.ids.release(hub.ring.nextId - 1);
    await first.close();

    const second = open();
    expect(second.maxId()).toBe(2);
    const after = publishAll(attachedHub(second), VARIED.slice(2));
    expect(after.map((event) => event.id)).toEqual([3, 4]);
    await second.close();

    const third = open();
    expect(allEvents(third)).toEqual([...before, ...after]);
    await third.close();
  });

  it('reserves ids before handing them out, so a crash skips unwritten ids instead of reusing them', async () => {
    const first = open();
    const shown = publishAll(attachedHub(first), VARIED.slice(0, 2)).map((event) => event.id);
    // Before the writer's first batch: the events are not stored yet, their ids are reserved.
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare("SELECT value FROM meta WHERE key = 'reserved_until'").get()).toEqual({ value: ID_BLOCK });
    expect(first.maxId()).toBe(0);
    raw.close();
    // What a restart after kill -9 finds: the reservation, not the events.
    const restarted = open();
    const next = publishAll(attachedHub(restarted), VARIED.slice(2)).map((event) => event.id);
    expect(next).toEqual([ID_BLOCK + 1, ID_BLOCK + 2]);
    expect(next.filter((id) => shown.includes(id))).toEqual([]);
    await restarted.close();
    await first.close();
  });

  it('counts events the ring overwrote before they were written as lost', async () => {
    const history = open();
    const hub = attachedHub(history, { capacity: 8 });
    publishAll(hub, Array.from({ length: 20 }, (_, i) => makeEvent({ ts: T0 + i, action: 'monitor' })));
    await written(history, 8);
    expect(history.counters).toMatchObject({ written: 8, lost: 12 });
    expect(allEvents(history).map((event) => event.id)).toEqual([13, 14, 15, 16, 17, 18, 19, 20]);
    await history.close();
  });

  it('degrades without disturbing the hub while the database refuses writes, then catches up', async () => {
    const history = open();
    const hub = attachedHub(history);
    const blocker = new Database(path);
    blocker.exec('BEGIN IMMEDIATE'); // holds the write lock, as a backup tool or a wedged disk would
    try {
      expect(() => publishAll(hub, VARIED)).not.toThrow();
      await expect.poll(() => history.degraded(), { timeout: 3000 }).toMatch(/^history write failed: database is locked/);
      expect(history.counters.written).toBe(0);
      expect(history.counters.failures).toBeGreaterThanOrEqual(1);
      expect(() => publishAll(hub, [makeEvent({ ts: T0 + 1 })])).not.toThrow();
    } finally {
      blocker.exec('COMMIT');
      blocker.close();
    }
    await written(history, 5);
    expect(history.degraded()).toBeNull();
    expect(history.counters.lost).toBe(0);
    expect(allEvents(history)).toHaveLength(5);
    await history.close();
  });

  it('writeEvents() stores events from another source once, however often they are delivered', async () => {
    const history = open();
    const events = [makeEvent({ id: 41, action: 'monitor' }), makeEvent({ id: 40, action: 'monitor' })];
    history.writeEvents(events);
    history.writeEvents([events[0]!, makeEvent({ id: 42, action: 'monitor' })]);
    expect(allEvents(history).map((event) => event.id)).toEqual([40, 41, 42]);
    expect(history.counters).toMatchObject({ written: 3, batches: 2 });
    expect(history.deviceApps('10.64.0.7')[0]!.count).toBe(3);
    expect(history.maxId()).toBe(42);
    await history.close();
  });

  it('writeEvents() throws when the write fails, so the source keeps the events', async () => {
    const history = open();
    const blocker = new Database(path);
    blocker.exec('BEGIN IMMEDIATE');
    try {
      expect(() => history.writeEvents([makeEvent({ id: 7 })])).toThrow(/database is locked/);
      expect(history.degraded()).toMatch(/^history write failed/);
    } finally {
      blocker.exec('COMMIT');
      blocker.close();
    }
    history.writeEvents([makeEvent({ id: 7 })]);
    expect(history.degraded()).toBeNull();
    expect(allEvents(history).map((event) => event.id)).toEqual([7]);
    await history.close();
  });

  it('keeps a network attribution (an owner without an app) and finds it by attribution and owner country', async () => {
    const history = open();
    const yandex = { name: 'MKPAO Yandex', country: 'RU' };
    const network = makeEvent({
      id: 2,
      qname: 'static.example-cdn.ru',
      app: null,
      matched_name: null,
      attribution: 'network',
      owner: yandex,
      hosting: [{ ip: '77.88.8.8', country: 'RU', asn: 13238, org: 'YANDEX LLC' }],
      action: 'allow',
      rule: null,
    });
    history.writeEvents([makeEvent({ id: 1 }), network]);
    expect(allEvents(history)[1]).toEqual(network);
    const ids = (filter: Parameters<History['events']>[0]): number[] => history.events(filter).items.map((event) => event.id);
    expect(ids({ limit: 10, attribution: 'network' })).toEqual([2]);
    expect(ids({ limit: 10, attribution: 'name' })).toEqual([1]);
    expect(ids({ limit: 10, owner_country: 'ru' })).toEqual([2]);
    expect(ids({ limit: 10, owner_country: 'CN' })).toEqual([1]);
    expect(history.stats('24h', T0 + 1).top_owner_countries).toEqual([
      { country: 'CN', count: 1 },
      { country: 'RU', count: 1 },
    ]);
    // No app, so nothing for the device's app inventory.
    expect(history.deviceApps('10.64.0.7').map((app) => app.id)).toEqual(['tiktok']);
    await history.close();
  });

  it('creates a missing directory, private to the service', async () => {
    const nested = join(dir, 'var', 'lib', 'wachtpost', 'history.sqlite');
    const history = History.open(historySettings(nested), silentLog);
    expect(statSync(nested).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'var', 'lib', 'wachtpost')).mode & 0o777).toBe(0o700);
    await history.close();
  });

  it('refuses a corrupt file with an error naming it', () => {
    writeFileSync(path, 'this is not an SQLite database\n'.repeat(200));
    expect(open).toThrow(`cannot open the history database ${path}: file is not a database`);
  });

  it('close() is idempotent', async () => {
    const history = open();
    await history.close();
    await expect(history.close()).resolves.toBeUndefined();
  });
});
