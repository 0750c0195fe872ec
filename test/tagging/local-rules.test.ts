import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { compileCatalogue, loadShippedApps, type ShippedApps } from '../../src/tagging/catalogue.js';
import { loadConfiguredCatalogue } from '../../src/tagging/detection.js';
import { addToLocalRules, appendLocalRule, loadLocalRules, parseLocalRules } from '../../src/tagging/local-rules.js';
import { loadOwners } from '../../src/tagging/owners.js';
import { SHIPPED } from '../../src/tagging/shipped-data.js';
import { thrown } from '../support/errors.js';

let shipped: ShippedApps;
let dir: string;

beforeAll(async () => {
  shipped = loadShippedApps(SHIPPED.catalogue, loadOwners(SHIPPED.owners));
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-local-'));
});

const LOCAL = `# our own findings
apps:
  - id: acme-chat
    name: Acme Chat
    owner: Acme Messaging Ltd.      # not in owners.yaml: its country is our word
    owner_country: CN
    category: messaging
    rules:
      - { domain: acme-chat.example, source: "vendor privacy policy, read by alice", verified: 2026-12-03 }
rules:
  - { app: tiktok, domain: new-host.example, source: "discovery queue, promoted by alice", verified: 2026-12-03 }
  - { app: acme-chat, pattern: '^acme-[0-9]+\\.cdn\\.example$', suffix: cdn.example, source: capture of 2026-12-01, verified: 2026-12-03 }
  - { app: tiktok, domain: tiktokv.com, source: "we saw it too", verified: 2026-12-03 }
`;

const problemsOf = (run: () => unknown): string => thrown(run).message;

describe('loadLocalRules', () => {
  it('adds apps and rules to the catalogue, each match saying where its rule comes from', () => {
    const local = parseLocalRules(LOCAL, 'local.yaml', shipped);
    expect(local.apps.map((app) => app.id)).toEqual(['acme-chat']);
    expect(local.rules).toHaveLength(2);
    // tiktokv.com is tiktok's already: redundant, not a conflict.
    expect(local.redundant).toBe(1);
    const catalogue = compileCatalogue(shipped, local);
    const match = (name: string) => {
      const found = catalogue.index.matchName(name);
      return found === null ? null : { app: found.app.id, origin: found.origin };
    };
    expect(match('api.new-host.example')).toEqual({ app: 'tiktok', origin: 'local' });
    expect(match('www.acme-chat.example')).toEqual({ app: 'acme-chat', origin: 'local' });
    expect(match('acme-17.cdn.example')).toEqual({ app: 'acme-chat', origin: 'local' });
    expect(match('api16-normal-c-useast1a.tiktokv.com')).toEqual({ app: 'tiktok', origin: 'shipped' });
    expect(match('acme-x.cdn.example')).toBeNull();
    expect(match('new-host.example.nl')).toBeNull();
    expect(catalogue.ruleCount).toBe(compileCatalogue(shipped).ruleCount + 3);
    expect(catalogue.apps.at(-1)!.id).toBe('acme-chat');
  });

  it('refuses a rule for an unknown app, naming the app and the domain at their line', () => {
    const message = problemsOf(() =>
      parseLocalRules('rules:\n  - app: no-such-app\n    domain: x.example\n    source: alice\n    verified: 2026-12-03\n', 'local.yaml', shipped),
    );
    expect(message).toMatch(/^local\.yaml:2: rules\.0\.app: domain x\.example is for app "no-such-app", which is neither in the catalogue nor under apps/);
  });

  it('refuses a domain or pattern the catalogue gives another app, naming both apps and the file', () => {
    const message = problemsOf(() =>
      parseLocalRules(
        `apps:\n  - { id: mine, name: Mine, owner: Me, owner_country: NL, category: other, rules: [{ domain: tiktok.com, source: me, verified: 2026-12-03 }] }\n` +
          `rules:\n  - { app: wechat, domain: tiktokv.com, source: me, verified: 2026-12-03 }\n`,
        'local.yaml',
        shipped,
      ),
    );
    expect(message).toMatch(/local\.yaml:2: apps\.0\.rules\.0: domain tiktok\.com is already claimed by tiktok \(.*geo\/apps\/tiktok\.yaml\)/);
    expect(message).toMatch(/local\.yaml:4: rules\.0: domain tiktokv\.com for wechat is already claimed by tiktok \(.*tiktok\.yaml\)/);
  });

  it('refuses a local app that reuses a catalogue id, or contradicts the owners file', () => {
    const app = (id: string, owner: string, country: string) =>
      `  - { id: ${id}, name: X, owner: "${owner}", owner_country: ${country}, category: other, rules: [{ domain: ${id}.example, source: me, verified: 2026-12-03 }] }\n`;
    const message = problemsOf(() => parseLocalRules(`apps:\n${app('tiktok', 'Me', 'NL')}${app('mine', 'ByteDance Ltd.', 'US')}`, 'local.yaml', shipped));
    expect(message).toMatch(/local\.yaml:2: apps\.0\.id: id "tiktok" is already claimed by tiktok/);
    expect(message).toMatch(/local\.yaml:3: apps\.1\.owner_country: US differs from CN, the country of "ByteDance Ltd\."/);
  });

  it('reports schema problems, bad names and unanchored patterns at their lines', () => {
    expect(problemsOf(() => parseLocalRules('rules:\n  - { app: tiktok, domain: ok.example, source: me, verified: yesterday }\n', 'local.yaml', shipped))).toMatch(
      /local\.yaml:2: rules\.0\.verified: must match pattern/,
    );
    const message = problemsOf(() =>
      parseLocalRules(
        'rules:\n  - { app: tiktok, domain: "bad..name", source: me, verified: 2026-12-03 }\n  - { app: tiktok, pattern: "x.example", suffix: example, source: me, verified: 2026-12-03 }\n',
        'local.yaml',
        shipped,
      ),
    );
    expect(message).toMatch(/local\.yaml:2: rules\.0: "bad\.\.name" is not a valid domain name/);
    expect(message).toMatch(/local\.yaml:3: rules\.1\.pattern: must be anchored/);
  });

  it('loads the example in geo/README.md', async () => {
    const readme = await readFile(join(SHIPPED.owners, '../README.md'), 'utf8');
    const example = /## Local rules[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)![1]!;
    const local = parseLocalRules(example, 'geo/README.md', shipped);
    expect(local.apps).toHaveLength(1);
    expect(local.rules).toHaveLength(2);
  });

  it('adds nothing while the file does not exist', () => {
    expect(loadLocalRules(join(dir, 'absent.yaml'), shipped)).toEqual({ apps: [], rules: [], redundant: 0 });
  });

  it('is merged by the configured catalogue (detection.local_rules)', async () => {
    const file = join(dir, 'configured.yaml');
    await writeFile(file, LOCAL);
    const config = loadConfig({ text: `detection: { local_rules: "${file}" }\nupstream: { servers: ["127.0.0.1:53"] }\n` });
    expect(loadConfiguredCatalogue(config.detection).index.matchName('new-host.example')?.origin).toBe('local');
  });
});

describe('appendLocalRule', () => {
  const rule = (domain: string, app = 'tiktok') => ({ app, domain, source: 'discovery queue, promoted by alice', verified: '2026-12-03' });

  it('creates the file with a header, then appends keeping comments and order, leaving no temporary file', async () => {
    const sub = await mkdtemp(join(dir, 'append-'));
    const file = join(sub, 'local.yaml');
    appendLocalRule(file, rule('first.example'), shipped);
    const created = await readFile(file, 'utf8');
    expect(created).toMatch(/^# Local rules: /);
    expect(created).toContain('domain: first.example');

    await writeFile(file, `${created.trimEnd()}   # reviewed by bob\n# end of file\n`);
    const local = appendLocalRule(file, rule('second.example'), shipped);
    expect(local.rules.map(({ rule: added }) => ('domain' in added ? added.domain : added.pattern))).toEqual(['first.example', 'second.example']);
    const text = await readFile(file, 'utf8');
    expect(text).toMatch(/^# Local rules: /);
    expect(text).toContain('# reviewed by bob');
    expect(text).toContain('# end of file');
    expect(text.indexOf('first.example')).toBeLessThan(text.indexOf('second.example'));
    expect(loadLocalRules(file, shipped).rules).toHaveLength(2);
    expect(await readdir(sub)).toEqual(['local.yaml']);
  });

  it('writes nothing when the result would be refused', async () => {
    const file = join(await mkdtemp(join(dir, 'refuse-')), 'local.yaml');
    appendLocalRule(file, rule('mine.example'), shipped);
    const before = await readFile(file, 'utf8');
    expect(() => appendLocalRule(file, rule('tiktok.com', 'wechat'), shipped)).toThrow(/domain tiktok\.com for wechat is already claimed by tiktok/);
    expect(() => appendLocalRule(file, rule('x.example', 'nobody'), shipped)).toThrow(/app "nobody"/);
    expect(await readFile(file, 'utf8')).toBe(before);
  });

  it('refuses to touch a file that is not YAML', async () => {
    const file = join(await mkdtemp(join(dir, 'broken-')), 'local.yaml');
    await writeFile(file, 'rules: [\n');
    expect(() => appendLocalRule(file, rule('x.example'), shipped)).toThrow(/local\.yaml:\d+: \(file\): YAML/);
    expect(await readFile(file, 'utf8')).toBe('rules: [\n');
  });

  it('adds a new app and its rules in one write', async () => {
    const file = join(await mkdtemp(join(dir, 'app-')), 'local.yaml');
    const app = { id: 'acme', name: 'Acme', owner: 'Acme Ltd.', owner_country: 'RU', category: 'other' as const, rules: [rule('acme.example')].map(({ app: _, ...r }) => r), dns_endpoints: [] };
    const local = addToLocalRules(file, { apps: [app], rules: [rule('cdn.acme.example', 'acme')] }, shipped);
    expect(local.apps.map((entry) => entry.id)).toEqual(['acme']);
    expect(compileCatalogue(shipped, loadLocalRules(file, shipped)).index.matchName('x.cdn.acme.example')?.app.id).toBe('acme');
  });
});
