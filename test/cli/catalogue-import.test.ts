import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { loadConfiguredCatalogue } from '../../src/tagging/detection.js';
import { runCli } from '../support/cli.js';

let dir: string;

/** A fresh configuration with its own (not yet existing) local rules file. */
async function setup(name: string): Promise<{ config: string; local: string }> {
  const local = join(dir, `${name}-local.yaml`);
  const config = join(dir, `${name}.yaml`);
  await writeFile(config, `upstream: { servers: ["127.0.0.1:5300"] }\ndetection: { local_rules: ${local} }\n`);
  return { config, local };
}

async function list(name: string, lines: string[]): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-import-'));
});

describe('wachtpost catalogue import', () => {
  it('makes a new local app from hosts, AdGuard, domain and RPZ files together', async () => {
    const { config, local } = await setup('new-app');
    const hosts = await list('hosts', ['# vendor hosts', '127.0.0.1 localhost', '0.0.0.0 api.acme-cloud.example telemetry.acme-cloud.example']);
    const adguard = await list('adguard.txt', ['! acme', '||acme-cdn.example^', '||img.acme-cdn.example^$important']);
    const domains = await list('domains.txt', ['acme-login.example', '*.acme-push.example']);
    const rpz = await list('acme.rpz', ['$ORIGIN rpz.test.', '@ SOA ns hostmaster 1 2 3 4 5', '@ NS ns', 'acme-update.example CNAME .', '*.acme-update.example CNAME .']);
    const result = await runCli(['catalogue', 'import', '--app', 'acme', '--owner-country', 'CN', '--name', 'Acme Cloud', '--owner', 'Acme Holdings', '--category', 'cloud', '--config', config, hosts, adguard, domains, rpz]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`${hosts}: 2 names (hosts, domain or AdGuard lines), 1 local host name skipped\n`);
    expect(result.stderr).toContain(`${rpz}: 2 names (RPZ zone)\n`);
    expect(result.stdout).toBe(`added 6 rules for new local app acme to ${local} (2 names left out: repeated, or covered already)\n`);

    const catalogue = loadConfiguredCatalogue(loadConfig({ file: config }).detection);
    const acme = catalogue.local.apps.find((app) => app.id === 'acme')!;
    expect(acme).toMatchObject({ name: 'Acme Cloud', owner: 'Acme Holdings', owner_country: 'CN', category: 'cloud' });
    expect(acme.rules.map((rule) => ('domain' in rule ? rule.domain : rule.pattern)).sort()).toEqual([
      'acme-cdn.example',
      'acme-login.example',
      'acme-push.example',
      'acme-update.example',
      'api.acme-cloud.example',
      'telemetry.acme-cloud.example',
    ]);
    expect(acme.rules[0]!.source).toMatch(/^imported from .*hosts:3$/);
    const match = catalogue.index.matchName('x.img.acme-cdn.example');
    expect(match?.app.id).toBe('acme');
    expect(match?.origin).toBe('local');
  }, 30_000);

  it('adds extra rules to a catalogued app, leaving out what it covers, with --source; --dry-run writes nothing', async () => {
    const { config, local } = await setup('existing');
    const file = await list('tiktok.txt', ['api16-normal-c-useast1a.tiktokv.com', 'tiktok-new.example', 'cdn.tiktok-new.example']);
    const dry = await runCli(['catalogue', 'import', '--app', 'tiktok', '--owner-country', 'CN', '--source', 'vendor list 2026-12', '--dry-run', '--config', config, file]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe(`would add 1 rule for tiktok to ${local} (2 names left out: repeated, or covered already):\n  tiktok-new.example  (vendor list 2026-12)\n`);
    expect(existsSync(local)).toBe(false);

    const done = await runCli(['catalogue', 'import', '--app', 'tiktok', '--owner-country', 'CN', '--source', 'vendor list 2026-12', '--config', config, file]);
    expect(done.code).toBe(0);
    const text = await readFile(local, 'utf8');
    expect(text).toMatch(/^# Local rules: /);
    expect(text).toContain('rules:\n  - app: tiktok\n    domain: tiktok-new.example\n    source: vendor list 2026-12\n');
    const again = await runCli(['catalogue', 'import', '--app', 'tiktok', '--owner-country', 'CN', '--config', config, file]);
    expect(again.stdout).toBe('nothing to add: tiktok already covers every name\n');
  }, 30_000);

  it('refuses a file with bad lines, listing every one as FILE:LINE, and writes nothing', async () => {
    const { config, local } = await setup('bad-lines');
    const hosts = await list('bad-hosts', ['0.0.0.0 fine.example', '10.1.2.3 intranet.example', '0.0.0.0 mid.*.example']);
    const adguard = await list('bad-adguard.txt', ['||fine2.example^', '@@||allowed.example^', '||ads.example^$client=10.0.0.1', '/regex/']);
    const rpz = await list('bad.rpz', ['$ORIGIN rpz.test.', '@ SOA ns hostmaster 1 2 3 4 5', 'ok.example CNAME .', 'allowed.example CNAME rpz-passthru.']);
    const result = await runCli(['catalogue', 'import', '--app', 'acme', '--owner-country', 'CN', '--config', config, hosts, adguard, rpz, join(dir, 'absent.txt')]);
    expect(result.code).toBe(1);
    const lines = result.stderr.split('\n').filter((line) => line.startsWith(dir) && !/ names? \(/.test(line));
    expect(lines).toEqual([
      `${hosts}:2: maps names to 10.1.2.3, a real address: a hosts entry that blocks points at 0.0.0.0, 127.0.0.1, :: or ::1`,
      `${hosts}:3: "mid.*.example" has a wildcard other than a leading "*.": rules cover a name and every name below it`,
      `${adguard}:2: an exception rule (@@): the catalogue lists what to flag, not what to let through`,
      `${adguard}:3: modifier $client=10.0.0.1 narrows the rule (to some clients, types or apps); catalogue rules cover every query: drop the line or the modifier`,
      `${adguard}:4: a regular-expression rule: write a pattern rule in the local rules file instead`,
      `${rpz}:4: an exception (rpz-passthru): the catalogue lists what to flag, not what to let through`,
      `${join(dir, 'absent.txt')}: cannot read: ENOENT: no such file or directory, open '${join(dir, 'absent.txt')}'`,
    ]);
    expect(result.stderr.trimEnd().endsWith('nothing imported')).toBe(true);
    expect(existsSync(local)).toBe(false);
  }, 30_000);

  it('refuses names another app claims and flags that contradict the catalogue', async () => {
    const { config, local } = await setup('conflicts');
    const file = await list('mixed.txt', ['mine.example', 'qq.com']);
    const claimed = await runCli(['catalogue', 'import', '--app', 'acme', '--owner-country', 'CN', '--config', config, file]);
    expect(claimed.code).toBe(1);
    expect(claimed.stderr).toContain(`${file}:2: qq.com is already a rule of qq (shipped)\nnothing imported\n`);
    const country = await runCli(['catalogue', 'import', '--app', 'tiktok', '--owner-country', 'RU', '--config', config, file]);
    expect(country).toMatchObject({ code: 1, stderr: 'tiktok is catalogued with owner country CN, not RU: nothing imported\n' });
    const below = await list('below.txt', ['special.qq.com']);
    const taken = await runCli(['catalogue', 'import', '--app', 'acme', '--owner-country', 'CN', '--config', config, below]);
    expect(taken.code).toBe(0);
    expect(taken.stderr).toContain(`${below}:1: warning: special.qq.com is under rule "qq.com" of qq; it becomes acme's (the most specific rule wins)\n`);
    expect(await readFile(local, 'utf8')).toContain('special.qq.com');
    expect((await runCli(['catalogue', 'import', '--app', 'Acme!', '--owner-country', 'CN', file])).code).toBe(2);
  }, 60_000);
});
