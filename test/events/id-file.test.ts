import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventHub } from '../../src/events/event-hub.js';
import { IdFile } from '../../src/events/id-file.js';
import { ID_BLOCK } from '../../src/events/id-store.js';
import { sampleEvent } from '../support/events.js';

const log = pino({ level: 'silent' });
let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-ids-'));
  path = join(dir, 'state', 'event-ids');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** A hub as a node without history wires it: numbered above the file's reservation, reserving there. */
function hubOn(ids: IdFile): EventHub {
  return new EventHub({ capacity: 1024, firstId: ids.reserved() + 1, residualWindowMs: 60_000, pseudonymiser: null, ids });
}

const onDisk = (): string => readFileSync(path, 'utf8');

describe('IdFile', () => {
  it('reserves a block of ids on disk before the first of them is handed out', () => {
    const hub = hubOn(new IdFile(path, log));
    hub.publish(sampleEvent());
    expect(hub.ring.get(1)).toBeDefined();
    expect(onDisk()).toBe(`${ID_BLOCK}\n`);
    for (let i = 1; i < ID_BLOCK; i++) hub.publish(sampleEvent({ qname: `n${i}.tiktokv.com` }));
    expect(onDisk()).toBe(`${ID_BLOCK}\n`);
    hub.publish(sampleEvent());
    expect(hub.ring.nextId - 1).toBe(ID_BLOCK + 1);
    expect(onDisk()).toBe(`${2 * ID_BLOCK}\n`);
  });

  it('continues above the reservation after a crash, and right after the last id after a graceful stop', () => {
    const before = hubOn(new IdFile(path, log));
    for (let i = 0; i < 5; i++) before.publish(sampleEvent());
    // A crash: nothing but the reservation survives.
    const afterCrash = new IdFile(path, log);
    const hub = hubOn(afterCrash);
    hub.publish(sampleEvent());
    expect(hub.ring.nextId - 1).toBe(ID_BLOCK + 1);
    afterCrash.release(hub.ring.nextId - 1);
    const afterStop = hubOn(new IdFile(path, log));
    afterStop.publish(sampleEvent());
    expect(afterStop.ring.nextId - 1).toBe(ID_BLOCK + 2);
  });

  it('refuses a file that does not hold an id, naming it', () => {
    new IdFile(path, log).reserve(5);
    writeFileSync(path, 'twelve\n');
    expect(() => new IdFile(path, log)).toThrow(`the event id file ${path} does not hold an id`);
  });

  it('reports a reservation it cannot write instead of failing the event', () => {
    const ids = new IdFile(path, log);
    // The temporary file it writes first cannot be made: a directory is in the way.
    mkdirSync(`${path}.tmp`, { recursive: true });
    const hub = hubOn(ids);
    hub.publish(sampleEvent());
    expect(hub.ring.get(1)).toBeDefined();
    expect(ids.degraded()).toMatch(/^event id reservation failed: /);
  });
});
