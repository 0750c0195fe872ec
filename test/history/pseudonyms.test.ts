import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Pseudonymiser } from '../../src/events/pseudonymiser.js';
import { History } from '../../src/history/history.js';
import { allEvents, attachedHub, historySettings, makeEvent, publishAll, silentLog, tempDir, written } from './fixtures.js';

let path: string;
let cleanup: () => Promise<void>;
let history: History;
let pseudonymiser: Pseudonymiser;
beforeEach(async () => {
  const temp = await tempDir();
  cleanup = temp.cleanup;
  path = join(temp.dir, 'h.sqlite');
  history = History.open(historySettings(path), silentLog);
  pseudonymiser = new Pseudonymiser('k'.repeat(32), (pseudonym, address) => history.rememberPseudonym(pseudonym, address));
});
afterEach(async () => {
  await history.close();
  await cleanup();
});

describe('pseudonyms', () => {
  it('stores pseudonymised events and resolves a pseudonym for an audited caller', async () => {
    publishAll(attachedHub(history, { pseudonymiser }), [makeEvent({ client: '10.64.3.7' })]);
    await written(history, 1);
    const pseudonym = allEvents(history)[0]!.client;
    expect(pseudonym).toMatch(/^p:[0-9a-f]{24}$/);
    expect(pseudonym).toBe(pseudonymiser.of('10.64.3.7'));

    expect(history.resolvePseudonym(pseudonym, 'alice', 'INC-42 lost phone')).toBe('10.64.3.7');
    const [entry] = history.audit(null, 10).items;
    expect(entry).toEqual({
      id: 1,
      ts: expect.any(Number),
      principal: 'alice',
      action: 'resolve_pseudonym',
      subject: pseudonym,
      reason: 'INC-42 lost phone',
      found: true,
      outcome: 'disclosed',
    });
    expect(Math.abs(entry!.ts - Date.now())).toBeLessThan(5000);
  });

  it('audits a look-up that finds nothing', () => {
    expect(history.resolvePseudonym('p:000000000000000000000000', 'bob', 'curious')).toBeNull();
    expect(history.audit(null, 10).items).toEqual([expect.objectContaining({ principal: 'bob', subject: 'p:000000000000000000000000', found: false, outcome: 'not_found' })]);
  });

  it('audits a refused attempt without looking anything up', () => {
    history.rememberPseudonym('p:000000000000000000000001', '10.64.3.9');
    history.refusePseudonym('p:000000000000000000000001', 'carol', 'just looking');
    expect(history.audit(null, 10).items).toEqual([
      expect.objectContaining({ principal: 'carol', subject: 'p:000000000000000000000001', reason: 'just looking', found: false, outcome: 'refused' }),
    ]);
  });

  it('resolves a pseudonym not yet written, and keeps the pair across a restart', async () => {
    const pseudonym = pseudonymiser.of('10.64.3.8');
    expect(history.resolvePseudonym(pseudonym, 'alice', 'before the write')).toBe('10.64.3.8');
    await history.close();
    history = History.open(historySettings(path), silentLog);
    expect(history.resolvePseudonym(pseudonym, 'alice', 'after restart')).toBe('10.64.3.8');
    expect(history.audit(null, 10).items.map((entry) => entry.reason)).toEqual(['after restart', 'before the write']);
  });

  it('discloses nothing when the audit entry cannot be stored', () => {
    const pseudonym = pseudonymiser.of('10.64.3.9');
    const blocker = new Database(path);
    blocker.exec('BEGIN IMMEDIATE');
    try {
      expect(() => history.resolvePseudonym(pseudonym, 'mallory', 'no trail')).toThrow(/database is locked/);
    } finally {
      blocker.exec('COMMIT');
      blocker.close();
    }
    expect(history.audit(null, 10).items).toEqual([]);
  });

  it('pages the audit trail newest first', () => {
    for (const reason of ['one', 'two', 'three']) history.resolvePseudonym('p:x', 'alice', reason);
    const first = history.audit(null, 2);
    expect(first.items.map((entry) => entry.reason)).toEqual(['three', 'two']);
    expect(first.next_before_id).toBe(2);
    const second = history.audit(2, 2);
    expect(second.items.map((entry) => entry.reason)).toEqual(['one']);
    expect(second.next_before_id).toBeNull();
  });
});
