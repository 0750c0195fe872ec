import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CatalogueError, loadCatalogue } from '../../src/tagging/catalogue.js';

const SHIPPED = fileURLToPath(new URL('../../geo/apps/', import.meta.url));

describe('the shipped catalogue', () => {
  const catalogue = loadCatalogue(SHIPPED);
  const appOf = (name: string) => catalogue.index.matchName(name)?.app.id ?? null;

  it('loads, with a source and a verification date on every rule', () => {
    expect(catalogue.apps.length).toBeGreaterThanOrEqual(20);
    expect(catalogue.apps.every((app) => ['CN', 'RU', 'IR', 'KP'].includes(app.owner_country))).toBe(true);
    for (const app of catalogue.apps) for (const rule of app.rules) expect(rule.source).toMatch(/^https:\/\//);
  });

  it('recognises backends and CDN names of the apps it lists', () => {
    expect(appOf('api16-normal-c-useast1a.tiktokv.com')).toBe('tiktok');
    expect(appOf('p16-tiktokcdn-com.akamaized.net')).toBe('tiktok');
    expect(appOf('v16m.tiktokcdn.com.akamaized.net')).toBe('tiktok');
    expect(appOf('webcast.tiktokv.com.edgekey.net')).toBe('tiktok');
    expect(appOf('hklong.weixin.qq.com')).toBe('wechat');
    expect(appOf('mail.qq.com')).toBe('qq');
    expect(appOf('ae01.alicdn.com')).toBe('aliexpress');
    expect(appOf('g.alicdn.com')).toBe('taobao');
    expect(appOf('grs.dbankcloud.eu')).toBe('huawei');
    expect(appOf('web.bale.ai')).toBe('bale');
  });

  it('ignores look-alikes and unrelated CDN customers', () => {
    expect(appOf('mytiktokv.com')).toBeNull();
    expect(appOf('tiktokv.com.example.nl')).toBeNull();
    expect(appOf('static.akamaized.net')).toBeNull();
    expect(appOf('www.example.com.edgekey.net')).toBeNull();
  });
});

describe('loadCatalogue errors', () => {
  async function catalogueWith(files: Record<string, string>): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'wachtpost-catalogue-'));
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    return dir;
  }
  const app = (id: string, domain: string, extra = '') =>
    `id: ${id}\nname: X\nowner: X Ltd.\nowner_country: CN\ncategory: social\nrules:\n  - domain: ${domain}\n    source: https://example.org/x\n    verified: 2026-11-24\n${extra}`;

  it('names the file, line and field of every problem', async () => {
    const dir = await catalogueWith({
      'a.yaml': app('a', 'a.example'),
      'b.yaml': app('b', 'a.example'),
      'c.yaml': app('c', 'c.example').replace('owner_country: CN', 'owner_country: China'),
    });
    expect(() => loadCatalogue(dir)).toThrow(CatalogueError);
    try {
      loadCatalogue(dir);
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toMatch(/b\.yaml:7: rules\.0: domain a\.example is already claimed by a/);
      expect(message).toMatch(/c\.yaml:4: owner_country: must match pattern/);
    }
  });

  it('rejects unanchored patterns', async () => {
    const dir = await catalogueWith({
      'p.yaml': app('p', 'p.example').replace(
        '  - domain: p.example',
        "  - pattern: 'tiktok'\n    suffix: akamaized.net",
      ),
    });
    expect(() => loadCatalogue(dir)).toThrow(/must be anchored/);
  });
});
