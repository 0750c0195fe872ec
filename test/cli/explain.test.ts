import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { explain } from '../../src/cli/explain-command.js';
import { loadConfig } from '../../src/config/load.js';
import { loadCatalogue } from '../../src/tagging/catalogue.js';
import { loadDetection } from '../../src/tagging/detection.js';
import { SHIPPED } from '../../src/tagging/shipped-data.js';
import { withKnotUpstream } from '../integration/harness.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const POLICY = `
policy:
  groups: [{ name: inspection, organisation: ILT, cidrs: ["10.9.0.0/16"] }]
  exemptions:
    - { id: EX-7, group: inspection, apps: [tiktok], legal_basis: inspection, reason: supervision, approved_by: CIO Rijk, expires: 2099-12-31 }
`;
const offline = loadConfig({ text: POLICY, overrides: { upstream: ['127.0.0.1:5300'] } });

describe('wachtpost explain', () => {
  it('answers for every catalogued app, naming the rule, the owner and the decision', async () => {
    const detection = loadDetection(offline);
    for (const app of loadCatalogue(SHIPPED.catalogue).apps) {
      const rule = app.rules.find((candidate) => 'domain' in candidate);
      if (rule === undefined || !('domain' in rule)) continue;
      const result = await explain(offline, `api.${rule.domain}`, '10.1.2.3', false, detection);
      expect(result.app?.id, rule.domain).toBe(app.id);
      expect(result.matched_rule).not.toBeNull();
      expect(result.decision).toEqual({ action: 'monitor', rule: `owner-country:${app.owner_country}`, exemption: null });
    }
  });

  it('shows an exemption for its group and nothing for names of no app', async () => {
    const exempt = await explain(offline, 'log.tiktokv.com', '10.9.1.1', false);
    expect(exempt.group).toEqual({ name: 'inspection', organisation: 'ILT' });
    expect(exempt.decision).toEqual({ action: 'exempt', rule: 'owner-country:CN', exemption: 'EX-7' });
    const none = await explain(offline, 'www.rijksoverheid.nl', '10.9.1.1', false);
    expect(none.app).toBeNull();
    expect(none.decision.action).toBe('allow');
  });

  describe('--resolve', () => {
    const setup = withKnotUpstream();

    it('follows the CNAME chain and reports hosting of the current answer', async () => {
      const config = loadConfig({ text: 'mode: enforce', overrides: { upstream: [`127.0.0.1:${setup.knot.port}`] } });
      const cloaked = await explain(config, 'cloaked.test.wachtpost', '10.1.2.3', true);
      expect(cloaked.app?.id).toBe('tiktok');
      expect(cloaked.matched_name).toBe('api16-normal-c-useast1a.tiktokv.com');
      expect(cloaked.decision.action).toBe('block');
      const hosted = await explain(config, 'ru-hosted.test.wachtpost', '10.1.2.3', true);
      expect(hosted.hosting).toEqual([{ ip: '77.88.8.8', country: 'RU', asn: 13238, org: 'YANDEX LLC' }]);
      expect(hosted.hosting_watchlisted).toBe(true);
    });

    it('prints JSON from the real command', async () => {
      const output = await new Promise<string>((resolve, reject) =>
        execFile(process.execPath, [CLI, 'explain', 'v16m.tiktokcdn.com.akamaized.net', '--upstream', `127.0.0.1:${setup.knot.port}`, '--json'], (error, stdout) =>
          error ? reject(error) : resolve(stdout),
        ),
      );
      const parsed = JSON.parse(output);
      expect(parsed).toMatchObject({
        name: 'v16m.tiktokcdn.com.akamaized.net',
        app: { id: 'tiktok', name: 'TikTok', owner: 'ByteDance Ltd.', owner_country: 'CN' },
        decision: { action: 'monitor', rule: 'owner-country:CN', exemption: null },
      });
    });
  });
});
