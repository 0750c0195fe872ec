import { describe, expect, it } from 'vitest';
import { compileCatalogue, loadShippedApps, type ShippedApps } from '../../src/tagging/catalogue.js';
import { parseDomainList } from '../../src/tagging/domain-lists.js';
import { parseLocalRules } from '../../src/tagging/local-rules.js';
import { loadOwners } from '../../src/tagging/owners.js';
import { exportRpz } from '../../src/tagging/rpz-export.js';
import { SHIPPED } from '../../src/tagging/shipped-data.js';

const shipped: ShippedApps = loadShippedApps(SHIPPED.catalogue, loadOwners(SHIPPED.owners));
const WATCHLIST = new Set(['CN', 'RU', 'IR', 'KP']);
const OPTIONS = { zone: 'rpz.test', all: false, ttl: 60, serial: 2026120301 };
const LOCAL = `apps:
  - { id: kantoor, name: Kantoor, owner: Kantoor BV, owner_country: NL, category: other, rules: [{ domain: nl-edge.tiktokv.com, source: ours, verified: 2026-12-03 }, { domain: kantoor.example, source: ours, verified: 2026-12-03 }] }
rules:
  - { app: tiktok, domain: multi.test.wachtpost, source: ours, verified: 2026-12-03 }
  - { app: tiktok, domain: "odd name.example", source: ours, verified: 2026-12-03 }
`;
const withLocal = compileCatalogue(shipped, parseLocalRules(LOCAL, 'local.yaml', shipped));

describe('the catalogue as an RPZ zone', () => {
  it('has a SOA and NS at the apex, then NXDOMAIN for each domain and every name below it', () => {
    const { text } = exportRpz(compileCatalogue(shipped), WATCHLIST, OPTIONS);
    expect(text).toMatch(/^\$ORIGIN rpz\.test\.\n\$TTL 60\n@ SOA localhost\. hostmaster\.localhost\. 2026120301 3600 600 86400 60\n@ NS localhost\.\n/m);
    expect(text).toContain('\n; tiktok: TikTok, ByteDance Ltd., CN\ntiktok.com CNAME .\n*.tiktok.com CNAME .\n');
  });

  it('is read back by the importer as exactly the domain rules, and lists pattern rules as comments', () => {
    const catalogue = compileCatalogue(shipped);
    const rpz = exportRpz(catalogue, WATCHLIST, OPTIONS);
    const parsed = parseDomainList(rpz.text);
    expect(parsed.problems).toEqual([]);
    const domains = catalogue.apps.flatMap((app) => app.rules.flatMap((rule) => ('domain' in rule ? [rule.domain] : [])));
    expect(new Set(parsed.names.map((entry) => entry.name))).toEqual(new Set(domains));
    expect(rpz.domains).toBe(domains.length);
    const patterns = catalogue.apps.flatMap((app) => app.rules.filter((rule) => 'pattern' in rule));
    expect(rpz.patterns).toBe(patterns.length);
    expect(rpz.text).toContain(`; ${patterns.length} pattern rules RPZ cannot express`);
    expect(rpz.text).toContain('; tiktok: ^([a-z0-9-]+\\.)*(tiktokv|tiktokcdn|ibytedtos|ibyteimg)\\.com\\.edgekey\\.net$ (below edgekey.net)\n');
  });

  it('includes local rules, and lets through what an app left out holds below an exported name', () => {
    const rpz = exportRpz(withLocal, WATCHLIST, OPTIONS);
    expect(rpz.text).toContain('multi.test.wachtpost CNAME .\n*.multi.test.wachtpost CNAME .\n');
    expect(rpz.text).toContain('odd\\032name.example CNAME .');
    expect(rpz.text).toContain('; kantoor: Kantoor, Kantoor BV, NL: not exported, below names that are\nnl-edge.tiktokv.com CNAME rpz-passthru.\n*.nl-edge.tiktokv.com CNAME rpz-passthru.\n');
    expect(rpz.text).not.toContain('kantoor.example');
    expect(rpz.apps).toBe(shipped.apps.length);
    const all = exportRpz(withLocal, WATCHLIST, { ...OPTIONS, all: true });
    expect(all.text).toContain('kantoor.example CNAME .');
    expect(all.text).toContain('nl-edge.tiktokv.com CNAME .');
    expect(all.text).not.toContain('rpz-passthru');
    expect(all.apps).toBe(shipped.apps.length + 1);
  });
});
