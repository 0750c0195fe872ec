import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CatalogueStats } from '../../src/cli/catalogue-stats.js';
import { loadConfig } from '../../src/config/load.js';
import { loadConfiguredCatalogue } from '../../src/tagging/detection.js';
import { runCli } from '../support/cli.js';

let dir: string;
let withLocal: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-stats-'));
  const local = join(dir, 'local-rules.yaml');
  await writeFile(
    local,
    `apps:
  - { id: kantoor-app, name: Kantoor, owner: Kantoor BV, owner_country: NL, category: productivity, rules: [{ domain: kantoor.example, source: ours, verified: 2026-12-03 }, { domain: kantoor-cdn.example, source: ours, verified: 2026-12-03 }] }
rules:
  - { app: tiktok, domain: new-host.example, source: "discovery queue, promoted by alice", verified: 2026-12-03 }
  - { app: tiktok, domain: tiktokv.com, source: ours, verified: 2026-12-03 }
`,
  );
  withLocal = join(dir, 'with-local.yaml');
  await writeFile(withLocal, `upstream: { servers: ["127.0.0.1:5300"] }\ndetection: { local_rules: ${local} }\n`);
});

describe('wachtpost catalogue stats', () => {
  it('counts apps, rules and owners per owner country, watch-listed first, with the version', async () => {
    const { code, stdout } = await runCli(['catalogue', 'stats', '--config', withLocal, '--json']);
    expect(code).toBe(0);
    const stats = JSON.parse(stdout) as CatalogueStats;
    const catalogue = loadConfiguredCatalogue(loadConfig({ file: withLocal }).detection);
    expect(stats.version).toBe(catalogue.info!.version);
    expect(stats.total.apps).toBe(catalogue.apps.length);
    expect(stats.total.rules).toBe(catalogue.ruleCount);
    expect(stats.countries.slice(0, 4).map((entry) => [entry.country, entry.watchlisted])).toEqual([
      ['CN', true],
      ['RU', true],
      ['IR', true],
      ['KP', true],
    ]);
    const cn = stats.countries.find((entry) => entry.country === 'CN')!;
    expect(cn.apps).toBe(catalogue.apps.filter((app) => app.owner_country === 'CN').length);
    expect(cn.owners).toBe(new Set(catalogue.apps.filter((app) => app.owner_country === 'CN').map((app) => app.owner)).size);
    expect(cn.local_rules).toBe(1);
    expect(stats.countries.at(-1)).toEqual({ country: 'NL', watchlisted: false, apps: 1, rules: 2, owners: 1, local_apps: 1, local_rules: 2 });
    expect(stats.redundant_local_rules).toBe(1);
  }, 30_000);

  it('prints a table, and names the local rules file', async () => {
    const { code, stdout } = await runCli(['catalogue', 'stats', '--config', withLocal]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^catalogue \d{4}\.\d{2}\.\d{2}: /);
    expect(stdout).toContain(`local rules: ${join(dir, 'local-rules.yaml')} (1 app, 3 rules, 1 redundant (the catalogue has them now))`);
    expect(stdout).toMatch(/^CN +yes +\d+ +\d+ +\d+ +1$/m);
    expect(stdout).toMatch(/^NL +no +1 +2 +1 +2$/m);
    expect(stdout).toMatch(/^total +\d+ +\d+ +\d+ +3$/m);
  }, 30_000);

  it('says what is wrong with a broken local rules file, and exits 1; wrong flags exit 2', async () => {
    const broken = join(dir, 'broken-local.yaml');
    await writeFile(broken, 'rules:\n  - { app: nobody, domain: x.example, source: me, verified: 2026-12-03 }\n');
    const config = join(dir, 'broken.yaml');
    await writeFile(config, `upstream: { servers: ["127.0.0.1:5300"] }\ndetection: { local_rules: ${broken} }\n`);
    const failed = await runCli(['catalogue', 'stats', '--config', config]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toBe(`${broken}:2: rules.0.app: domain x.example is for app "nobody", which is neither in the catalogue nor under apps in this file\n`);
    const usage = await runCli(['catalogue', 'stats', '--jsn']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage:');
    expect((await runCli(['catalogue', 'frobnicate'])).stderr).toMatch(/^unknown catalogue command "frobnicate"/);
  }, 30_000);
});
