import { execFileSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundlePayload, signBundle, type BundlePayload } from '../../src/tagging/catalogue-bundle.js';
import { loadCatalogueInfo } from '../../src/tagging/catalogue-info.js';
import { SHIPPED } from '../../src/tagging/shipped-data.js';
import { runCli } from '../support/cli.js';

const VERSION = loadCatalogueInfo(SHIPPED.info).version;
let dir: string;
let key: string;
let config: string;
let bundle: string;
const target = () => join(dir, 'installed', 'catalogue.bundle');

/** Writes a configuration trusting the publisher's key, with `extra` YAML under detection. */
async function configWith(name: string, detection: string, rest = ''): Promise<string> {
  const file = join(dir, name);
  const publicKey = execFileSync('openssl', ['pkey', '-in', key, '-pubout'], { encoding: 'utf8' });
  await writeFile(
    file,
    `upstream: { servers: ["127.0.0.1:5300"] }\ndetection:\n  catalogue_keys:\n    - |\n${publicKey.replace(/^/gm, '      ').trimEnd()}\n${detection}${rest}`,
  );
  return file;
}

/** The shipped payload changed by `change`, signed with the publisher's key. */
async function variant(name: string, change: (payload: BundlePayload) => void): Promise<string> {
  const payload = bundlePayload(SHIPPED.geo);
  change(payload);
  const file = join(dir, name);
  await writeFile(file, signBundle(payload, createPrivateKey(await readFile(key))));
  return file;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-bundle-cli-'));
  key = join(dir, 'publisher.pem');
  execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', key]);
  await mkdir(join(dir, 'installed'));
  config = await configWith('wachtpost.yaml', `  catalogue: ${target()}\n`);
  bundle = join(dir, 'catalogue.bundle');
});

describe('wachtpost catalogue bundle, verify and install', () => {
  it('signs geo/ into a bundle, which verifies and installs where detection.catalogue points', async () => {
    const made = await runCli(['catalogue', 'bundle', '--key', key, '-o', bundle]);
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(new RegExp(`^${bundle}: catalogue ${VERSION.replace(/\./g, '\\.')}, \\d+ apps, \\d+ rules, \\d+ owners, \\d+ DoH endpoints; signed by key [0-9a-f]{16}\\n`));
    expect(made.stdout).toMatch(/\npublic key \(for detection\.catalogue_keys\): MCowBQYDK2VwAyEA[A-Za-z0-9+/]{43}=\n$/);

    const verified = await runCli(['catalogue', 'verify', bundle, '--config', config]);
    expect(verified).toMatchObject({ code: 0, stderr: '' });
    expect(verified.stdout).toMatch(/: catalogue \S+ \(\d+ apps, \d+ rules, \d+ owners\), signed by key [0-9a-f]{16}: valid for this installation\n$/);

    const installed = await runCli(['catalogue', 'install', bundle, '--config', config]);
    expect(installed).toMatchObject({ code: 0, stderr: '' });
    expect(await readFile(target(), 'utf8')).toBe(await readFile(bundle, 'utf8'));
    const stats = await runCli(['catalogue', 'stats', '--config', config]);
    expect(stats.stdout).toMatch(new RegExp(`^catalogue ${VERSION.replace(/\./g, '\\.')}: `));
  }, 60_000);

  it('refuses a tampered, foreign, unsigned or garbage bundle in one line, and changes nothing', async () => {
    const before = await readFile(target());
    const mtime = (await stat(target())).mtimeMs;
    const text = await readFile(bundle, 'utf8');
    const tampered = join(dir, 'tampered.bundle');
    await writeFile(tampered, text.replace('"domain": "tiktok.com"', '"domain": "tiktok.nl"'));
    const foreignKey = join(dir, 'foreign.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', foreignKey]);
    const foreign = join(dir, 'foreign.bundle');
    await writeFile(foreign, signBundle(bundlePayload(SHIPPED.geo), createPrivateKey(await readFile(foreignKey))));
    const unsigned = join(dir, 'unsigned.bundle');
    const { signature: _, ...envelope } = JSON.parse(text) as Record<string, unknown>;
    await writeFile(unsigned, JSON.stringify(envelope));
    const garbage = join(dir, 'garbage.bundle');
    await writeFile(garbage, Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff, 0x00, 0x42]));
    const cases: Array<[string, RegExp]> = [
      [tampered, /the signature of key [0-9a-f]{16} does not match the content: the bundle was changed after it was signed$/],
      [foreign, /signed by key [0-9a-f]{16}, which is not in detection\.catalogue_keys \([0-9a-f]{16}\)$/],
      [unsigned, /the bundle is not signed$/],
      [garbage, /not a catalogue bundle: not JSON$/],
    ];
    for (const [file, reason] of cases) {
      const result = await runCli(['catalogue', 'install', file, '--config', config]);
      expect(result.code, file).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(result.stderr.startsWith(`${file}: `)).toBe(true);
      expect(result.stderr.trimEnd()).toMatch(reason);
    }
    expect(await readFile(target())).toEqual(before);
    expect((await stat(target())).mtimeMs).toBe(mtime);
  }, 120_000);

  it('refuses an older release unless told to, and a bundle the policy does not fit', async () => {
    const older = await variant('older.bundle', (payload) => (payload.version = '2020.01.01'));
    const refused = await runCli(['catalogue', 'install', older, '--config', config]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`${older}: catalogue 2020.01.01 is older than the installed ${VERSION}; nothing installed (--allow-downgrade installs it anyway)\n`);
    const forced = await runCli(['catalogue', 'install', older, '--config', config, '--allow-downgrade']);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`replacing ${VERSION}`);

    const policed = await configWith('policed.yaml', `  catalogue: ${target()}\n`, 'policy:\n  block_apps: [tiktok]\n');
    const withoutTiktok = await variant('without-tiktok.bundle', (payload) => {
      payload.version = '2030.01.01';
      payload.apps = payload.apps.filter((app) => app.id !== 'tiktok');
    });
    const unfit = await runCli(['catalogue', 'verify', withoutTiktok, '--config', policed]);
    expect(unfit.code).toBe(1);
    expect(unfit.stderr).toMatch(new RegExp(`^${withoutTiktok}: does not fit this installation: policy does not fit the catalogue:\\n.*tiktok`));
  }, 60_000);

  it('installs only where a bundle file is configured, and signs only with an Ed25519 key', async () => {
    const shippedDir = await configWith('directory.yaml', '');
    const refused = await runCli(['catalogue', 'install', bundle, '--config', shippedDir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^detection\.catalogue is empty \(the catalogue shipped in geo\/apps\): set it to the file bundles are installed to/);
    const rsa = join(dir, 'rsa.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'rsa', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', rsa], { stdio: 'ignore' });
    const wrongKind = await runCli(['catalogue', 'bundle', '--key', rsa, '-o', join(dir, 'rsa.bundle')]);
    expect(wrongKind.code).toBe(1);
    expect(wrongKind.stderr).toBe('the signing key is a rsa private key; bundles are signed with an Ed25519 private key\n');
    const nowhere = await configWith('nowhere.yaml', `  catalogue: ${join(dir, 'no-such-dir', 'catalogue.bundle')}\n`);
    const unwritable = await runCli(['catalogue', 'install', bundle, '--config', nowhere]);
    expect(unwritable.code).toBe(1);
    expect(unwritable.stderr).toMatch(/^ENOENT: no such file or directory, open '.*no-such-dir\/\.catalogue\.bundle\.[0-9a-f]+\.tmp'\n$/);
    expect((await runCli(['catalogue', 'install', '--config', config])).code).toBe(2);
  }, 60_000);
});
