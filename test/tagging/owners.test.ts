import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CatalogueError, loadCatalogue } from '../../src/tagging/catalogue.js';
import { loadOwners } from '../../src/tagging/owners.js';
import { SHIPPED, ownersFileOf } from '../../src/tagging/shipped-data.js';

const net = (asn: number) => `      - { asn: ${asn}, name: "AS-${asn}", source: https://example.org/as${asn}, verified: 2026-12-03 }\n`;
const owner = (name: string, country: string, asns: number[] = []) =>
  `  - name: ${name}\n    country: ${country}\n` + (asns.length > 0 ? `    asns:\n${asns.map(net).join('')}` : '');
const app = (id: string, ownerName: string, country: string) =>
  `id: ${id}\nname: X\nowner: ${ownerName}\nowner_country: ${country}\ncategory: social\nrules:\n  - domain: ${id}.example\n    source: https://example.org/x\n    verified: 2026-12-03\n`;

async function tree(owners: string, apps: Record<string, string> = {}): Promise<{ ownersFile: string; appsDir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'wachtpost-owners-'));
  const appsDir = join(dir, 'apps');
  await mkdir(appsDir);
  await writeFile(join(dir, 'owners.yaml'), `owners:\n${owners}`);
  for (const [name, text] of Object.entries(apps)) await writeFile(join(appsDir, name), text);
  return { ownersFile: join(dir, 'owners.yaml'), appsDir };
}

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected an error');
}

describe('loadOwners', () => {
  it('indexes owners by name and by the networks they operate', async () => {
    const { ownersFile } = await tree(owner('Acme Ltd.', 'CN', [64500, 64501]) + owner('Other LLC', 'RU'));
    const owners = loadOwners(ownersFile);
    expect(owners.list.map((entry) => entry.name)).toEqual(['Acme Ltd.', 'Other LLC']);
    expect(owners.byAsn.get(64501)?.name).toBe('Acme Ltd.');
    expect(owners.byAsn.get(64502)).toBeUndefined();
    expect(owners.byName.get('Other LLC')?.asns).toEqual([]);
    expect(Object.isFrozen(owners.list[0])).toBe(true);
  });

  it('names the file and line of an owner listed twice', async () => {
    const { ownersFile } = await tree(owner('Acme Ltd.', 'CN') + owner('Acme Ltd.', 'RU'));
    expect(messageOf(() => loadOwners(ownersFile))).toMatch(/owners\.yaml:4: owners\.1\.name: owner "Acme Ltd\." is listed twice/);
  });

  it('names the file and line of a network claimed by two owners', async () => {
    const { ownersFile } = await tree(owner('Acme Ltd.', 'CN', [64500]) + owner('Other LLC', 'RU', [64500]));
    expect(messageOf(() => loadOwners(ownersFile))).toMatch(/owners\.yaml:9: owners\.1\.asns\.0\.asn: AS64500 is already claimed by Acme Ltd\./);
  });

  it('rejects a malformed entry at its line', async () => {
    const { ownersFile } = await tree(owner('Acme Ltd.', 'China'));
    expect(messageOf(() => loadOwners(ownersFile))).toMatch(/owners\.yaml:3: owners\.0\.country: must match pattern/);
  });
});

describe('the catalogue checked against its owners', () => {
  it('names the app file and line of an owner missing from the owners file', async () => {
    const { ownersFile, appsDir } = await tree(owner('Acme Ltd.', 'CN'), { 'a.yaml': app('a', 'Acme Ltd.', 'CN'), 'b.yaml': app('b', 'Nobody Inc.', 'CN') });
    const message = messageOf(() => loadCatalogue(appsDir, loadOwners(ownersFile)));
    expect(message).toMatch(/b\.yaml:3: owner: owner "Nobody Inc\." is not in .*owners\.yaml/);
    expect(message).not.toMatch(/a\.yaml/);
    expect(() => loadCatalogue(appsDir, loadOwners(ownersFile))).toThrow(CatalogueError);
  });

  it('names the app file and line of a country that differs from its owner', async () => {
    const { ownersFile, appsDir } = await tree(owner('Acme Ltd.', 'CN'), { 'a.yaml': app('a', 'Acme Ltd.', 'RU') });
    expect(messageOf(() => loadCatalogue(appsDir, loadOwners(ownersFile)))).toMatch(/a\.yaml:4: owner_country: RU differs from CN, the country of "Acme Ltd\."/);
  });

  it('finds the owners file beside a configured catalogue directory, and the shipped one by default', async () => {
    const { ownersFile, appsDir } = await tree(owner('Acme Ltd.', 'CN'), { 'a.yaml': app('a', 'Acme Ltd.', 'CN') });
    expect(ownersFileOf(appsDir)).toBe(ownersFile);
    expect(ownersFileOf('')).toBe(SHIPPED.owners);
    expect(loadCatalogue(appsDir, loadOwners(ownersFileOf(appsDir))).apps).toHaveLength(1);
  });

  it('holds for the shipped catalogue and owners file', () => {
    const owners = loadOwners(SHIPPED.owners);
    const catalogue = loadCatalogue(SHIPPED.catalogue, owners);
    const used = new Set(catalogue.apps.map((entry) => entry.owner));
    expect(owners.list.filter((entry) => !used.has(entry.name)).map((entry) => entry.name)).toEqual([]);
    for (const entry of owners.list) for (const network of entry.asns) expect(network.source).toMatch(/^https:\/\//);
  });
});
