import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { keyId, parsePublicKey, publicKeyText } from '../../src/config/public-key.js';
import { ConfigError } from '../../src/config/yaml-source.js';
import { BundleError, bundlePayload, canonicalJson, openBundle, signBundle, type BundlePayload } from '../../src/tagging/catalogue-bundle.js';
import { loadCatalogueInfo } from '../../src/tagging/catalogue-info.js';
import { loadShippedApps } from '../../src/tagging/catalogue.js';
import { SHIPPED } from '../../src/tagging/shipped-data.js';
import { thrown } from '../support/errors.js';

const publisher = generateKeyPairSync('ed25519');
const stranger = generateKeyPairSync('ed25519');
const KEYS = [publicKeyText(publisher.publicKey)];
const payload = bundlePayload(SHIPPED.geo);
const signed = signBundle(payload, publisher.privateKey);

/** A copy of the shipped payload with `change` applied, signed by `key`. */
function variant(change: (copy: BundlePayload) => void, key: KeyObject = publisher.privateKey): string {
  const copy = structuredClone(payload);
  change(copy);
  return signBundle(copy, key);
}

describe('a signed catalogue bundle', () => {
  it('holds the whole catalogue of geo/: version, apps, owners and DoH endpoints', () => {
    const bundle = openBundle(signed, 'catalogue.bundle', KEYS);
    expect(bundle.info).toEqual(loadCatalogueInfo(SHIPPED.info));
    expect(bundle.apps.map((app) => app.id)).toEqual(loadShippedApps(SHIPPED.catalogue).apps.map((app) => app.id).sort());
    expect(bundle.owners.byName.get('ByteDance Ltd.')?.country).toBe('CN');
    expect(bundle.endpoints!.some((endpoint) => endpoint.host === 'dns.google')).toBe(true);
    expect(bundle.keyId).toBe(keyId(publisher.publicKey));
  });

  it('is the same file for the same data, and verifies however its JSON is laid out', () => {
    expect(signBundle(bundlePayload(SHIPPED.geo), publisher.privateKey)).toBe(signed);
    const compact = JSON.stringify(JSON.parse(signed));
    expect(openBundle(compact, 'compact.bundle', KEYS).apps).toHaveLength(payload.apps.length);
    expect(canonicalJson({ b: [1, { d: 'x', c: null }], a: true })).toBe('{"a":true,"b":[1,{"c":null,"d":"x"}]}');
  });

  it('accepts a key given as PEM as well as base64', () => {
    const pem = publisher.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect(openBundle(signed, 'catalogue.bundle', [publicKeyText(stranger.publicKey), pem]).keyId).toBe(keyId(publisher.publicKey));
  });

  it('is refused when changed after signing', () => {
    const tampered = signed.replace('"domain": "tiktokv.com"', '"domain": "tiktokv.net"');
    expect(tampered).not.toBe(signed);
    const error = thrown(() => openBundle(tampered, 'catalogue.bundle', KEYS));
    expect(error).toBeInstanceOf(BundleError);
    expect(error.message).toBe(`catalogue.bundle: the signature of key ${keyId(publisher.publicKey)} does not match the content: the bundle was changed after it was signed`);
    const swapped = JSON.parse(signed) as { signature: { value: string } };
    swapped.signature.value = 'AAAA';
    expect(thrown(() => openBundle(JSON.stringify(swapped), 'catalogue.bundle', KEYS)).message).toMatch(/does not match the content/);
  });

  it('is refused when signed by a key that is not configured, naming both', () => {
    const error = thrown(() => openBundle(variant(() => {}, stranger.privateKey), 'catalogue.bundle', KEYS));
    expect(error.message).toBe(
      `catalogue.bundle: signed by key ${keyId(stranger.publicKey)}, which is not in detection.catalogue_keys (${keyId(publisher.publicKey)})`,
    );
    expect(thrown(() => openBundle(signed, 'catalogue.bundle', [])).message).toMatch(/detection\.catalogue_keys is empty/);
  });

  it('is refused unsigned, as garbage, or in another format, in one line', () => {
    const envelope = JSON.parse(signed) as Record<string, unknown>;
    const cases: Array<[string, RegExp]> = [
      [JSON.stringify({ ...envelope, signature: undefined }), /: the bundle is not signed$/],
      [JSON.stringify({ ...envelope, signature: { algorithm: 'rsa', key: 'x', value: 'y' } }), /"signature" is not an Ed25519 signature/],
      [JSON.stringify({ ...envelope, comment: 'unsigned extra' }), /unexpected field "comment" outside the signed payload/],
      [JSON.stringify({ ...envelope, format: 'wachtpost-catalogue-bundle/2' }), /format "wachtpost-catalogue-bundle\/2", which this version does not read/],
      [JSON.stringify({ ...envelope, payload: [] }), /no "payload"/],
      ['\u0000\u0001garbage', /not a catalogue bundle: not JSON$/],
      ['[1, 2]', /not a catalogue bundle: no "format"$/],
      [signed.slice(0, signed.length / 2), /not JSON$/],
    ];
    for (const [text, message] of cases) {
      const error = thrown(() => openBundle(text, 'x.bundle', KEYS));
      expect(error).toBeInstanceOf(BundleError);
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain('\n');
    }
  });

  it('is refused when signed but broken, naming each problem at its line', () => {
    const broken = variant((copy) => {
      const tiktok = copy.apps.find((app) => app.id === 'tiktok')!;
      tiktok.owner = 'Nobody Ltd.';
      tiktok.rules.push({ domain: 'qq.com', source: 'https://example.org/x', verified: '2026-12-03' });
      copy.apps.find((app) => app.id === 'wechat')!.rules.push({ pattern: 'unanchored', suffix: 'qq.com', source: 'https://example.org/x', verified: '2026-12-03' });
    });
    const error = thrown(() => openBundle(broken, 'broken.bundle', KEYS));
    expect(error).toBeInstanceOf(ConfigError);
    const lineOf = (text: string) => broken.slice(0, broken.indexOf(text)).split('\n').length;
    expect(error.message).toContain(`broken.bundle:${lineOf('"owner": "Nobody Ltd."')}: payload.apps.`);
    expect(error.message).toMatch(/payload\.apps\.\d+\.owner: owner "Nobody Ltd\." is not in broken\.bundle/);
    expect(error.message).toMatch(/domain qq\.com is already claimed by (qq|tiktok) \(broken\.bundle\)/);
    expect(error.message).toMatch(/payload\.apps\.\d+\.rules\.\d+\.pattern: must be anchored/);
    const invalid = thrown(() => openBundle(variant((copy) => (copy.version = 'latest')), 'invalid.bundle', KEYS));
    expect(invalid.message).toMatch(/^invalid\.bundle:\d+: payload\.version: must match pattern/);
  });
});

describe('catalogue keys in the configuration', () => {
  it('are parsed strictly: Ed25519 only, PEM or base64 SPKI', () => {
    expect(keyId(parsePublicKey(`  ${publicKeyText(publisher.publicKey)}\n`))).toBe(keyId(publisher.publicKey));
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect(() => parsePublicKey(rsa)).toThrow(/is a rsa key; catalogue bundles are signed with Ed25519/);
    expect(() => parsePublicKey('not a key!')).toThrow(/is not a public key/);
    expect(() => loadConfig({ text: `detection:\n  catalogue_keys:\n    - ${publicKeyText(publisher.publicKey)}\n    - "AAAA"\n`, overrides: { upstream: ['127.0.0.1:53'] } })).toThrow(
      /<config>:4: detection\.catalogue_keys\.1: is not a public key/,
    );
  });
});
