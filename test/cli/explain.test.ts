import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
access:
  allow: ["10.0.0.0/8"]
policy:
  groups: [{ name: inspection, organisation: ILT, cidrs: ["10.9.0.0/16"] }]
  exemptions:
    - { id: EX-7, group: inspection, apps: [tiktok], legal_basis: inspection, reason: supervision, approved_by: CIO Rijk, expires: 2099-12-31 }
`;
const offline = loadConfig({ text: POLICY, overrides: { upstream: ['127.0.0.1:5300'] } });

/** The built command's exit code and output. */
function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'explain', ...args], (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

describe('wachtpost explain', () => {
  it('answers for every catalogued app, naming the rule, the owner and the decision', async () => {
    const detection = loadDetection(offline);
    for (const app of loadCatalogue(SHIPPED.catalogue).apps) {
      const rule = app.rules.find((candidate) => 'domain' in candidate);
      if (rule === undefined || !('domain' in rule)) continue;
      const result = await explain(offline, `api.${rule.domain}`, '10.1.2.3', false, detection);
      expect(result.app?.id, rule.domain).toBe(app.id);
      expect(result.matched_rule).not.toBeNull();
      expect(result.matched_origin).toBe('shipped');
      expect(result.attribution).toBe('name');
      expect(result.owner).toEqual({ name: app.owner, country: app.owner_country });
      expect(result.decision).toEqual({ action: 'monitor', rule: `owner-country:${app.owner_country}`, exemption: null });
      expect(result.event).toBe('detection');
    }
  });

  it('shows an exemption for its group and nothing for names of no app', async () => {
    const exempt = await explain(offline, 'log.tiktokv.com', '10.9.1.1', false);
    expect(exempt.group).toEqual({ name: 'inspection', organisation: 'ILT' });
    expect(exempt.decision).toEqual({ action: 'exempt', rule: 'owner-country:CN', exemption: 'EX-7' });
    const none = await explain(offline, 'www.rijksoverheid.nl', '10.9.1.1', false);
    expect(none.app).toBeNull();
    expect(none.attribution).toBeNull();
    expect(none.decision.action).toBe('allow');
    expect(none.event).toBeNull();
    // The upstream would answer; without --resolve nobody asked it.
    expect(none.rcode).toBeNull();
  });

  it('answers the canaries as the server does: NXDOMAIN, recorded as bypass signals', async () => {
    for (const name of ['use-application-dns.net', 'mask.icloud.com', 'mask-h2.icloud.com']) {
      const result = await explain(offline, name, null, false);
      expect(result, name).toMatchObject({ decision: { action: 'block', rule: `canary:${name}` }, event: 'bypass', rcode: 'NXDOMAIN' });
    }
    const off = loadConfig({ text: 'events:\n  canaries: { use_application_dns: false }', overrides: { upstream: ['127.0.0.1:5300'] } });
    expect(await explain(off, 'use-application-dns.net', null, false)).toMatchObject({ decision: { action: 'allow' }, event: null });
  });

  it('flags DoH resolvers and vendor HTTPDNS hosts as bypass attempts, allowed', async () => {
    expect(await explain(offline, 'dns.google', null, false)).toMatchObject({ app: null, decision: { action: 'allow' }, event: 'bypass' });
    expect(await explain(offline, 'dns.weixin.qq.com', null, false)).toMatchObject({ app: { id: 'wechat' }, event: 'bypass' });
  });

  it('is a plain forwarder with detection switched off, as the server is', async () => {
    const off = loadConfig({ text: 'mode: enforce\ndetection:\n  enabled: false', overrides: { upstream: ['127.0.0.1:5300'] } });
    for (const name of ['api16-normal-c-useast1a.tiktokv.com', 'use-application-dns.net', 'dns.google']) {
      expect(await explain(off, name, null, false), name).toMatchObject({ app: null, decision: { action: 'allow', rule: null }, event: null, rcode: null });
    }
  });

  it('refuses a client outside access.allow, as the server does', async () => {
    expect(await explain(offline, 'api16-normal-c-useast1a.tiktokv.com', '192.168.1.9', false)).toMatchObject({
      decision: { action: 'refused', rule: 'access.allow' },
      event: null,
      rcode: 'REFUSED',
    });
  });

  it("judges with the local rules file and says a match is the operator's own rule", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wachtpost-explain-'));
    try {
      const file = join(dir, 'local-rules.yaml');
      await writeFile(file, 'rules:\n  - { app: wechat, domain: cdn.internal-mirror.example, source: "capture of 2026-12-01", verified: 2026-12-03 }\n');
      const config = loadConfig({ text: `mode: enforce\ndetection:\n  local_rules: ${JSON.stringify(file)}`, overrides: { upstream: ['127.0.0.1:5300'] } });
      expect(await explain(config, 'img.cdn.internal-mirror.example', null, false)).toMatchObject({
        app: { id: 'wechat' },
        matched_rule: 'cdn.internal-mirror.example',
        matched_origin: 'local',
        decision: { action: 'block', rule: 'owner-country:CN' },
        rcode: 'NXDOMAIN',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('--resolve', { timeout: 30_000 }, () => {
    const setup = withKnotUpstream();

    it('follows the CNAME chain and reports hosting of the current answer', async () => {
      const config = loadConfig({ text: 'mode: enforce', overrides: { upstream: [`127.0.0.1:${setup.knot.port}`] } });
      const cloaked = await explain(config, 'cloaked.test.wachtpost', '127.0.0.1', true);
      expect(cloaked.app?.id).toBe('tiktok');
      expect(cloaked.matched_name).toBe('api16-normal-c-useast1a.tiktokv.com');
      expect(cloaked.decision.action).toBe('block');
      expect(cloaked.rcode).toBe('NXDOMAIN');
      const hosted = await explain(config, 'cn-hosted.test.wachtpost', '127.0.0.1', true);
      expect(hosted.hosting).toEqual([{ ip: '36.110.0.1', country: 'CN', asn: 4847, org: 'China Networks Inter-Exchange' }]);
      expect(hosted).toMatchObject({ hosting_watchlisted: true, attribution: null, event: 'detection', rcode: 'NOERROR' });
    });

    it("attributes an answer in an owner's network to the owner, and blocks it only when policy says so", async () => {
      const upstream = [`127.0.0.1:${setup.knot.port}`];
      const tagging = await explain(loadConfig({ text: 'mode: enforce', overrides: { upstream } }), 'ru-hosted.test.wachtpost', null, true);
      expect(tagging).toMatchObject({
        app: null,
        attribution: 'network',
        owner: { name: 'Yandex MKPAO', country: 'RU' },
        owner_watchlisted: true,
        decision: { action: 'allow', rule: null },
        event: 'detection',
        rcode: 'NOERROR',
      });
      const blocking = loadConfig({ text: 'mode: enforce\npolicy: { network_attribution: block }', overrides: { upstream } });
      expect(await explain(blocking, 'ru-hosted.test.wachtpost', null, true)).toMatchObject({ decision: { action: 'block', rule: 'owner-network:RU' }, rcode: 'NXDOMAIN' });
    });

    it('prints JSON from the real command', async () => {
      const { code, stdout } = await run(['v16m.tiktokcdn.com.akamaized.net', '--upstream', `127.0.0.1:${setup.knot.port}`, '--json']);
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({
        name: 'v16m.tiktokcdn.com.akamaized.net',
        app: { id: 'tiktok', name: 'TikTok', owner: 'ByteDance Ltd.', owner_country: 'CN' },
        decision: { action: 'monitor', rule: 'owner-country:CN', exemption: null },
      });
    });

    it('prints the network owner in text', async () => {
      const { code, stdout } = await run(['ru-hosted.test.wachtpost', '--resolve', '--upstream', `127.0.0.1:${setup.knot.port}`]);
      expect(code).toBe(0);
      expect(stdout).toContain('owner:    Yandex MKPAO, RU (watch-listed), by network: an answer address lies in a network it operates (likely, not certain)');
      expect(stdout).toContain('hosting:  77.88.8.8 RU AS13238 YANDEX LLC');
      expect(stdout).toContain('event:    detection');
    });
  });

  describe('refuses what it cannot judge with one line', { timeout: 30_000 }, () => {
    // Nothing listens on loopback's discard port: every attempt is refused at once.
    const dead = '127.0.0.1:9';

    it.each([
      [['not a name'], 2, 'wachtpost explain: "not a name" is not a host name\n'],
      [['a..example'], 2, 'wachtpost explain: "a..example" is not a host name\n'],
      [[`${'a'.repeat(64)}.example`], 2, `wachtpost explain: "${'a'.repeat(64)}.example" is not a host name\n`],
      [['example.nl', '--client', '10.0.0.300'], 2, 'wachtpost explain: --client: "10.0.0.300" is not an IP address\n'],
      [['example.nl', '--client', 'localhost'], 2, 'wachtpost explain: --client: "localhost" is not an IP address\n'],
    ])('%o: exit %i', async (args, code, stderr) => {
      const result = await run([...args, '--upstream', '127.0.0.1:5300']);
      expect(result).toEqual({ code, stdout: '', stderr });
    });

    it('says in one line that a dead upstream did not answer, exit 1', async () => {
      const result = await run(['example.nl', '--resolve', '--upstream', dead]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^wachtpost explain: cannot resolve example\.nl: no upstream answered within 2000 ms \(.+\)\n$/);
    });
  });
});
