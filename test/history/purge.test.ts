import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Pseudonymiser } from '../../src/events/pseudonymiser.js';
import { History } from '../../src/history/history.js';
import { allEvents, attachedHub, DAY, historySettings, makeEvent, publishAll, silentLog, T0, tempDir, written } from './fixtures.js';

let path: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  const temp = await tempDir();
  cleanup = temp.cleanup;
  path = join(temp.dir, 'h.sqlite');
});
afterEach(() => cleanup());

/** Retention (fixtures): detection 90 days, residual 60, bypass 30, query 7, audit 365. */
describe('purge', () => {
  it('deletes events by kind past their retention, with their countries and stale inventory', async () => {
    const history = History.open(historySettings(path), silentLog);
    const events = [
      makeEvent({ kind: 'query', ts: T0 - 8 * DAY, client: 'q-old', app: null, action: 'allow' }),
      makeEvent({ kind: 'query', ts: T0 - 6 * DAY, client: 'q-new', app: null, action: 'allow' }),
      makeEvent({ kind: 'detection', ts: T0 - 91 * DAY, client: 'd-old' }),
      makeEvent({ kind: 'detection', ts: T0 - 89 * DAY, client: 'd-new' }),
      makeEvent({ kind: 'residual', ts: T0 - 61 * DAY, client: 'r-old' }),
      makeEvent({ kind: 'residual', ts: T0 - 59 * DAY, client: 'r-new' }),
      makeEvent({ kind: 'bypass', ts: T0 - 31 * DAY, client: 'b-old', app: null, action: 'monitor' }),
      makeEvent({ kind: 'bypass', ts: T0 - 29 * DAY, client: 'b-new', app: null, action: 'monitor' }),
    ];
    publishAll(attachedHub(history), events);
    await written(history, events.length);

    expect(await history.purge(T0)).toEqual({ detection: 1, residual: 1, bypass: 1, query: 1, audit: 0, inventory: 1, device_addresses: 0, pseudonyms: 0 });
    expect(allEvents(history).map((event) => event.client)).toEqual(['q-new', 'd-new', 'r-new', 'b-new']);
    expect(history.deviceApps('d-old')).toEqual([]);
    expect(history.deviceApps('d-new')).toHaveLength(1);
    expect(history.events({ limit: 10, hosting_country: 'US' }).items).toHaveLength(4);

    const reader = new Database(path, { readonly: true });
    expect(reader.prepare('SELECT count(*) FROM event_countries').pluck().get()).toBe(4);
    reader.close();

    // Nothing left to purge: a second run is a no-op.
    expect(await history.purge(T0)).toMatchObject({ detection: 0, residual: 0, bypass: 0, query: 0 });
    await history.close();
  });

  it('purges in chunks beyond one transaction', async () => {
    const history = History.open(historySettings(path), silentLog);
    const count = 12_001;
    publishAll(
      attachedHub(history, { capacity: 16_384 }),
      Array.from({ length: count }, (_, i) => makeEvent({ kind: 'query', ts: T0 - 30 * DAY + i, app: null, action: 'allow' })),
    );
    await written(history, count);
    expect((await history.purge(T0))!.query).toBe(count);
    expect(allEvents(history)).toEqual([]);
    await history.close();
  });

  it('keeps numbering after a purge emptied the history', async () => {
    const history = History.open(historySettings(path), silentLog);
    publishAll(attachedHub(history), [makeEvent({ ts: T0 - 100 * DAY }), makeEvent({ ts: T0 - 100 * DAY })]);
    await written(history, 2);
    await history.purge(T0);
    expect(allEvents(history)).toEqual([]);
    expect(history.maxId()).toBe(2);
    await history.close();
    const reopened = History.open(historySettings(path), silentLog);
    expect(reopened.maxId()).toBe(2);
    await reopened.close();
  });

  it('forgets pseudonyms unseen for the detection retention, and audit entries past theirs', async () => {
    const history = History.open(historySettings(path), silentLog);
    const pseudonymiser = new Pseudonymiser('k'.repeat(32), (pseudonym, address) => history.rememberPseudonym(pseudonym, address));
    const hub = attachedHub(history, { pseudonymiser });
    const now = Date.now();
    const [idle, active] = publishAll(hub, [
      makeEvent({ client: '10.64.0.1', ts: now, action: 'monitor' }),
      makeEvent({ client: '10.64.0.2', ts: now, action: 'monitor' }),
    ]).map((event) => event.client);
    // The active device shows up again later, which moves its pseudonym's last_seen forward.
    publishAll(hub, [makeEvent({ client: '10.64.0.2', ts: now + 10 * DAY, action: 'monitor' })]);
    await written(history, 3);
    expect(history.resolvePseudonym(idle!, 'root', 'check before purge')).toBe('10.64.0.1');

    const purged = await history.purge(now + 95 * DAY);
    expect(purged).toMatchObject({ pseudonyms: 1, audit: 0, inventory: 1 });
    expect(history.resolvePseudonym(idle!, 'root', 'after purge')).toBeNull();
    expect(history.resolvePseudonym(active!, 'root', 'after purge')).toBe('10.64.0.2');

    expect((await history.purge(now + 366 * DAY))!.audit).toBe(3);
    expect(history.audit(null, 10).items).toEqual([]);
    await history.close();
  });

  it('runs on its own every purge_interval_s', async () => {
    const history = History.open(historySettings(path, { purge_interval_s: 0.05 }), silentLog);
    const now = Date.now();
    publishAll(attachedHub(history), [
      makeEvent({ kind: 'query', ts: now - 8 * DAY, client: 'expired', app: null }),
      makeEvent({ kind: 'query', ts: now - DAY, client: 'current', app: null }),
    ]);
    await written(history, 2);
    await expect.poll(() => allEvents(history).map((event) => event.client), { timeout: 3000 }).toEqual(['current']);
    await history.close();
  });
});
