import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadShippedApps, type ShippedApps } from '../../src/tagging/catalogue.js';
import { appendLocalRule } from '../../src/tagging/local-rules.js';
import { loadOwners } from '../../src/tagging/owners.js';
import { SHIPPED } from '../../src/tagging/shipped-data.js';
import { dig } from '../support/dig.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { sleep, spawnWachtpost, type ServedProcess } from './harness.js';

let knot: KnotServer;
let served: ServedProcess;
let dir: string;
let shipped: ShippedApps;

beforeAll(async () => {
  knot = await startKnot();
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-catalogue-updates-'));
  shipped = loadShippedApps(SHIPPED.catalogue, loadOwners(SHIPPED.owners));
  const config = join(dir, 'wachtpost.yaml');
  await writeFile(config, `mode: enforce\nupstream: { servers: ["127.0.0.1:${knot.port}"] }\ndetection:\n  local_rules: ${join(dir, 'local-rules.yaml')}\n`);
  served = await spawnWachtpost(['--config', config, '--workers', '1']);
}, 30_000);

afterAll(async () => {
  served?.child.kill('SIGTERM');
  await served?.exited;
  await knot?.stop();
});

/** Polls dig until `name` gets `status`, or gives up after 5 s; returns the last status. */
async function until(name: string, status: string): Promise<string> {
  let last = '';
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(100)) {
    last = (await dig({ host: '127.0.0.1', port: served.port }, name, 'A')).status;
    if (last === status) break;
  }
  return last;
}

describe('local rules in a running server', () => {
  it('tags (and here blocks) a name once a rule for it is appended, without a restart', async () => {
    expect(served.output()).toMatch(/"catalogue":"\d{4}\.\d{2}\.\d{2}".*"localRules":0.*detection and policy loaded/);
    expect((await dig({ host: '127.0.0.1', port: served.port }, 'a.test.wachtpost', 'A')).status).toBe('NOERROR');
    // The file does not exist yet: the first rule creates it, by rename, in a watched directory.
    appendLocalRule(join(dir, 'local-rules.yaml'), { app: 'tiktok', domain: 'a.test.wachtpost', source: 'test', verified: '2026-12-03' }, shipped);
    expect(await until('a.test.wachtpost', 'NXDOMAIN')).toBe('NXDOMAIN');
    expect(served.output()).toMatch(/"localRules":1,.*detection and policy reloaded/);
    expect((await dig({ host: '127.0.0.1', port: served.port }, 'aaaa.test.wachtpost', 'A')).status).toBe('NOERROR');
  }, 30_000);
});
