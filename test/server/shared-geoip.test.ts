import { closeSync, ftruncateSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { GEOIP_SHARED_ENV, shareGeoDatabases, workerDatabaseReader } from '../../src/server/shared-geoip.js';
import { GeoTagger } from '../../src/tagging/geo-tagger.js';
import { spawnWithConfig, stopServed, withKnot } from '../integration/harness.js';
import { ownerNetworkFixture } from '../support/owner-networks.js';
import { askFromFreshPorts, childPids, eventually, scrape } from '../support/served.js';

const silent = pino({ level: 'silent' });
let dir = '';
let country = '';
let asn = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-geoip-'));
  country = join(dir, 'country.mmdb');
  asn = join(dir, 'asn.mmdb');
  const fixture = ownerNetworkFixture();
  writeFileSync(country, fixture.country);
  writeFileSync(asn, fixture.asn);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const geoipYaml = (): string => `detection: { geoip: { country: "${country}", asn: "${asn}" } }`;

describe('GeoIP databases shared by the primary', () => {
  it('hands out a sealed copy of each file, the same bytes, that nobody can change', () => {
    const shared = shareGeoDatabases(loadConfig({ text: geoipYaml(), overrides: { upstream: ['127.0.0.1:1'] } }), silent)!;
    try {
      expect(shared).not.toBeNull();
      const read = workerDatabaseReader(shared.env, shared.fds)!;
      const bytes = read(country);
      expect(bytes.equals(readFileSync(country))).toBe(true);
      expect(read(asn).equals(readFileSync(asn))).toBe(true);
      // One copy per process: a reload reads the same mapping again, not the file.
      expect(read(country)).toBe(bytes);
      expect(new GeoTagger(bytes, read(asn)).tag('36.110.0.1')).toMatchObject({ country: 'CN', asn: 64497 });

      // Sealed: neither written nor shrunk, by this process or any other holding it.
      expect(() => writeSync(shared.fds[0], Buffer.from('x'), 0, 1, 0)).toThrow(/EPERM/);
      expect(() => ftruncateSync(shared.fds[0], 0)).toThrow(/EPERM/);
    } finally {
      for (const fd of shared.fds) closeSync(fd);
    }
  });

  it('reads a file changed since the primary copied it from disk, and leaves the copy as it was', () => {
    const shared = shareGeoDatabases(loadConfig({ text: geoipYaml(), overrides: { upstream: ['127.0.0.1:1'] } }), silent)!;
    const before = readFileSync(country);
    try {
      const read = workerDatabaseReader(shared.env, shared.fds)!;
      const copy = read(country);
      // Rewritten in place (same inode), as `cp new.mmdb country.mmdb` would.
      writeFileSync(country, readFileSync(asn));
      expect(read(country).equals(readFileSync(asn))).toBe(true);
      expect(copy.equals(before)).toBe(true);
    } finally {
      writeFileSync(country, before);
      for (const fd of shared.fds) closeSync(fd);
    }
  });

  it('refuses a description of the copies it cannot read', () => {
    expect(() => workerDatabaseReader({ [GEOIP_SHARED_ENV]: '[{"path":"/x"}]' }, [0, 0])).toThrow(GEOIP_SHARED_ENV);
    expect(workerDatabaseReader({}, [0, 0])).toBeUndefined();
  });
});

describe('GeoIP databases shared by a served node', () => {
  const upstream = withKnot();

  it('maps one copy into every worker, which keeps answering when the file is truncated under it', async () => {
    const served = await spawnWithConfig(geoipYaml(), ['--upstream', `127.0.0.1:${upstream.knot.port}`, '--workers', '2']);
    try {
      const workers = childPids(served.child.pid!);
      expect(workers).toHaveLength(2);
      for (const pid of workers) {
        const copies = readFileSync(`/proc/${pid}/maps`, 'utf8')
          .split('\n')
          .filter((line) => line.includes('/memfd:wachtpost-data'));
        expect(copies).toHaveLength(2);
      }
      // Hosted in a watch-listed country by the fixture's database: every query, from either
      // worker (one tags the upstream answer, the other the cached one), is an event.
      expect(await askFromFreshPorts(served.port, 'cn-hosted.test.wachtpost', 20)).toBe(20);
      expect(await eventually(async () => (await scrape(served.httpPort, 'wachtpost_events_recorded_total')) === 20, 5000)).toBe(true);

      // A file mapped straight from disk would fault (SIGBUS) on the next look-up once truncated.
      writeFileSync(country, '');
      writeFileSync(asn, '');
      expect(await askFromFreshPorts(served.port, 'ru-hosted.test.wachtpost', 20)).toBe(20);
      expect(await askFromFreshPorts(served.port, 'nl-hosted.test.wachtpost', 20)).toBe(20);
      expect(childPids(served.child.pid!)).toEqual(workers);
    } finally {
      await stopServed(served);
      const fixture = ownerNetworkFixture();
      writeFileSync(country, fixture.country);
      writeFileSync(asn, fixture.asn);
    }
  }, 60_000);
});
