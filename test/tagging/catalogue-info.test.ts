import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareVersions, loadCatalogueInfo } from '../../src/tagging/catalogue-info.js';
import { SHIPPED, infoFileOf } from '../../src/tagging/shipped-data.js';

describe('the catalogue version', () => {
  it('is carried by the shipped catalogue, beside geo/apps', () => {
    expect(infoFileOf('')).toBe(SHIPPED.info);
    expect(infoFileOf('/srv/catalogue/apps')).toBe('/srv/catalogue/catalogue.yaml');
    const info = loadCatalogueInfo(SHIPPED.info);
    expect(info.version).toMatch(/^\d{4}\.\d{2}\.\d{2}$/);
    expect(info.description.length).toBeGreaterThan(10);
  });

  it('refuses a malformed version at its line, and a missing file by name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wachtpost-info-'));
    await writeFile(join(dir, 'catalogue.yaml'), 'description: test\nversion: 2026.12\n');
    expect(() => loadCatalogueInfo(join(dir, 'catalogue.yaml'))).toThrow(/catalogue\.yaml:2: version: must be string/);
    await writeFile(join(dir, 'catalogue.yaml'), 'description: test\nversion: "3 December"\n');
    expect(() => loadCatalogueInfo(join(dir, 'catalogue.yaml'))).toThrow(/catalogue\.yaml:2: version: must match pattern/);
    expect(() => loadCatalogueInfo(join(dir, 'absent.yaml'))).toThrow(/absent\.yaml: \(file\): cannot read the catalogue's version file/);
  });

  it('orders releases by date, then by their number within a day', () => {
    expect(compareVersions('2026.12.03', '2026.12.04')).toBeLessThan(0);
    expect(compareVersions('2026.12.03.2', '2026.12.03')).toBeGreaterThan(0);
    expect(compareVersions('2026.12.03.2', '2026.12.03.10')).toBeLessThan(0);
    expect(compareVersions('2027.01.01', '2026.12.31.9')).toBeGreaterThan(0);
    expect(compareVersions('2026.12.03', '2026.12.03')).toBe(0);
  });
});
