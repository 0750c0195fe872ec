import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicKeyText } from '../../src/config/public-key.js';
import { writeFileAtomically } from '../../src/tagging/atomic-file.js';
import { bundlePayload, openBundle, signBundle, type BundlePayload } from '../../src/tagging/catalogue-bundle.js';
import { appendLocalRule } from '../../src/tagging/local-rules.js';
import { SHIPPED } from '../../src/tagging/shipped-data.js';
import { runCli } from '../support/cli.js';
import { dig } from '../support/dig.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { sleep, spawnWachtpost, type ServedProcess } from './harness.js';

/**
 * One enforcing server whose catalogue is an installed bundle and which has a local rules
 * file: names Knot serves become blocked (NXDOMAIN) once a rule for them arrives.
 */
const publisher = generateKeyPairSync('ed25519');
const KEY = publicKeyText(publisher.publicKey);
const shippedPayload = bundlePayload(SHIPPED.geo);

let knot: KnotServer;
let served: ServedProcess;
let dir: string;
let config: string;
const installed = () => join(dir, 'catalogue.bundle');
const localRules = () => join(dir, 'local-rules.yaml');

/** The shipped catalogue with `version` and extra tiktok domains, signed by the publisher, as a file in the test directory. */
async function release(version: string, extraDomains: string[], name = `${version}.bundle`): Promise<string> {
  const payload: BundlePayload = structuredClone(shippedPayload);
  payload.version = version;
  payload.apps.find((app) => app.id === 'tiktok')!.rules.push(...extraDomains.map((domain) => ({ domain, source: 'https://example.org/test', verified: '2026-12-03' })));
  const file = join(dir, name);
  await writeFile(file, signBundle(payload, publisher.privateKey));
  return file;
}

beforeAll(async () => {
  knot = await startKnot();
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-catalogue-updates-'));
  config = join(dir, 'wachtpost.yaml');
  await writeFile(
    config,
    `mode: enforce\nupstream: { servers: ["127.0.0.1:${knot.port}"] }\n` +
      `detection:\n  catalogue: ${installed()}\n  catalogue_keys: ["${KEY}"]\n  local_rules: ${localRules()}\n`,
  );
  const first = await runCli(['catalogue', 'install', await release('2026.12.03', []), '--config', config]);
  expect(first.stderr).toBe('');
  served = await spawnWachtpost(['--config', config, '--workers', '1']);
}, 60_000);

afterAll(async () => {
  served?.child.kill('SIGTERM');
  await served?.exited;
  await knot?.stop();
});

const status = async (name: string) => (await dig({ host: '127.0.0.1', port: served.port }, name, 'A')).status;

/** Polls dig until `name` gets `wanted`, or gives up after 5 s; returns the last status. */
async function until(name: string, wanted: string): Promise<string> {
  let last = '';
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(100)) {
    last = await status(name);
    if (last === wanted) break;
  }
  return last;
}

describe('catalogue updates in a running server', () => {
  it('logs the release it loaded', () => {
    expect(served.output()).toMatch(/"catalogue":"2026\.12\.03".*"localRules":0.*detection and policy loaded/);
  });

  it('tags (and here blocks) a name once a local rule for it is appended, without a restart', async () => {
    expect(await status('multi.test.wachtpost')).toBe('NOERROR');
    // The file does not exist yet: the first rule creates it, by rename, in a watched directory.
    appendLocalRule(localRules(), { app: 'tiktok', domain: 'multi.test.wachtpost', source: 'test', verified: '2026-12-03' }, openBundle(await readFile(installed(), 'utf8'), installed(), [KEY]));
    expect(await until('multi.test.wachtpost', 'NXDOMAIN')).toBe('NXDOMAIN');
    expect(served.output()).toMatch(/"localRules":1,.*detection and policy reloaded/);
    expect(await status('aaaa.test.wachtpost')).toBe('NOERROR');
  }, 30_000);

  it('picks up a signed bundle that `catalogue install` puts in place: a name new in it becomes tagged', async () => {
    expect(await status('a.test.wachtpost')).toBe('NOERROR');
    const installing = await runCli(['catalogue', 'install', await release('2026.12.04', ['a.test.wachtpost']), '--config', config]);
    expect(installing).toMatchObject({ code: 0, stderr: '' });
    expect(installing.stdout).toMatch(/^installed catalogue 2026\.12\.04 \(\d+ apps, \d+ rules, \d+ owners\) at .*catalogue\.bundle, replacing 2026\.12\.03; running servers reload it\n$/);
    expect(await until('a.test.wachtpost', 'NXDOMAIN')).toBe('NXDOMAIN');
    expect(served.output()).toMatch(/"catalogue":"2026\.12\.04".*detection and policy reloaded/);
    // The local rule survived the update.
    expect(await status('multi.test.wachtpost')).toBe('NXDOMAIN');
  }, 30_000);

  it('refuses a bundle that conflicts with the local rules, before anything is installed', async () => {
    const before = await readFile(installed(), 'utf8');
    const payload: BundlePayload = structuredClone(shippedPayload);
    payload.version = '2026.12.05';
    payload.apps.find((app) => app.id === 'wechat')!.rules.push({ domain: 'multi.test.wachtpost', source: 'https://example.org/test', verified: '2026-12-03' });
    const file = join(dir, 'conflicting.bundle');
    await writeFile(file, signBundle(payload, publisher.privateKey));
    const refused = await runCli(['catalogue', 'install', file, '--config', config]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/local-rules\.yaml:\d+: rules\.0: domain multi\.test\.wachtpost for tiktok is already claimed by wechat \(.*conflicting\.bundle\)/);
    expect(await readFile(installed(), 'utf8')).toBe(before);
  }, 30_000);

  it('refuses a bundle altered on disk when it reloads, and keeps the running catalogue', async () => {
    const text = await readFile(installed(), 'utf8');
    const tampered = text.replace('"domain": "a.test.wachtpost"', '"domain": "aaaa.test.wachtpost"');
    expect(tampered).not.toBe(text);
    writeFileAtomically(installed(), tampered);
    const deadline = Date.now() + 5000;
    while (!served.output().includes('does not match the content') && Date.now() < deadline) await sleep(100);
    expect(served.output()).toMatch(/the bundle was changed after it was signed.*reload refused; the running configuration stays/);
    expect(await status('aaaa.test.wachtpost')).toBe('NOERROR');
    expect(await status('a.test.wachtpost')).toBe('NXDOMAIN');
  }, 30_000);
});
