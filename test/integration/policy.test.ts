import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { dig } from '../support/dig.js';
import { freePort } from '../support/ports.js';
import { withKnotUpstream } from './harness.js';

const TIKTOK = 'api16-normal-c-useast1a.tiktokv.com';
const from = (address: string) => ({ extra: ['-b', address] });

const POLICY = `
mode: enforce
policy:
  groups:
    - name: inspection
      organisation: Inspectie Leefomgeving en Transport
      cidrs: ["127.0.0.0/30"]
    - name: inspection-desk
      organisation: ILT front desk (a smaller pool inside the inspection pool)
      cidrs: ["127.0.0.2/32"]
    - name: investigation
      organisation: FIOD
      cidrs: ["127.0.0.8/29"]
    - name: managed
      organisation: Ministry with managed devices
      cidrs: ["127.0.1.0/24"]
      managed_apps: [wechat]
  exemptions:
    - id: EX-2026-007
      group: inspection
      apps: [tiktok]
      legal_basis: inspection
      reason: supervision of influencer advertising
      approved_by: CIO Rijk
      expires: 2099-12-31
    - id: EX-2024-001
      group: investigation
      apps: [tiktok]
      legal_basis: investigation
      reason: closed case
      approved_by: CIO Rijk
      expires: 2024-06-30
`;

describe('policy in enforce mode', () => {
  const setup = withKnotUpstream(POLICY);

  it("blocks an app's backend with NXDOMAIN, a SOA for negative caching and an EDE naming the rule", async () => {
    const result = await dig(setup.wp.server, TIKTOK, 'A', from('127.0.0.100'));
    expect(result.status).toBe('NXDOMAIN');
    expect(result.answer).toEqual([]);
    expect(result.authority[0]).toMatchObject({ type: 'SOA', ttl: 60 });
    expect(result.authority[0]!.data).toContain('wachtpost.invalid.');
    expect(result.ede).toEqual({ code: 15, text: 'blocked by wachtpost: owner-country:CN' });
  });

  it('catches an app reached only through a CNAME chain', async () => {
    const result = await dig(setup.wp.server, 'cloaked.test.wachtpost', 'A', from('127.0.0.100'));
    expect(result.status).toBe('NXDOMAIN');
    expect(result.ede?.code).toBe(15);
  });

  it('answers an exempted group normally, and judges the cached answer again for everyone else', async () => {
    const exempt = await dig(setup.wp.server, TIKTOK, 'A', from('127.0.0.1'));
    expect(exempt.status).toBe('NOERROR');
    expect(exempt.answer[0]!.data).toBe('192.0.2.30');
    const hitsBefore = setup.wp.resolver.chain.cache.counters.hits;
    const other = await dig(setup.wp.server, TIKTOK, 'A', from('127.0.0.100'));
    expect(other.status).toBe('NXDOMAIN');
    const exemptAgain = await dig(setup.wp.server, TIKTOK, 'A', from('127.0.0.3'));
    expect(exemptAgain.answer[0]!.data).toBe('192.0.2.30');
    expect(setup.wp.resolver.chain.cache.counters.hits).toBe(hitsBefore + 1);
  });

  it('uses the longest prefix: a smaller pool inside an exempt pool is its own group', async () => {
    const desk = await dig(setup.wp.server, TIKTOK, 'A', from('127.0.0.2'));
    expect(desk.status).toBe('NXDOMAIN');
  });

  it('no longer applies an expired exemption, and reports it', async () => {
    const result = await dig(setup.wp.server, TIKTOK, 'A', from('127.0.0.9'));
    expect(result.status).toBe('NXDOMAIN');
    expect(setup.wp.resolver.chain.policy.current.expired).toEqual(['EX-2024-001 (group investigation) expired on 2024-06-30']);
  });

  it('blocks every catalogued app but the approved ones for a managed-device group', async () => {
    const result = await dig(setup.wp.server, TIKTOK, 'A', from('127.0.1.5'));
    expect(result.ede?.text).toBe('blocked by wachtpost: managed-device:managed');
  });

  it('leaves names of no catalogued app alone', async () => {
    const result = await dig(setup.wp.server, 'a.test.wachtpost', 'A', from('127.0.0.100'));
    expect(result.status).toBe('NOERROR');
    expect(result.answer[0]!.data).toBe('192.0.2.10');
  });
});

describe('other block answers and hosting rules', () => {
  const nullAnswers = withKnotUpstream('mode: enforce\npolicy: { block_answer: "null", block_ttl: 30, hosting: block }');

  it('answers 0.0.0.0 and :: with the block TTL', async () => {
    const a = await dig(nullAnswers.wp.server, TIKTOK, 'A');
    expect(a.status).toBe('NOERROR');
    expect(a.answer).toEqual([expect.objectContaining({ type: 'A', data: '0.0.0.0', ttl: 30 })]);
    const aaaa = await dig(nullAnswers.wp.server, TIKTOK, 'AAAA');
    expect(aaaa.answer).toEqual([expect.objectContaining({ type: 'AAAA', data: '::', ttl: 30 })]);
  });

  it('blocks answers hosted in a watch-listed country when asked to', async () => {
    const result = await dig(nullAnswers.wp.server, 'ru-hosted.test.wachtpost', 'A');
    expect(result.answer[0]!.data).toBe('0.0.0.0');
    expect(result.ede?.text).toBe('blocked by wachtpost: hosting-country');
  });
});

describe('monitor mode', () => {
  const monitor = withKnotUpstream(
    'mode: monitor\npolicy:\n  block_answer: refused\n  groups: [{ name: strict, organisation: Pilot ministry, cidrs: ["127.0.2.0/24"], mode: enforce }]',
  );

  it('answers normally and only tags', async () => {
    const result = await dig(monitor.wp.server, TIKTOK, 'A');
    expect(result.status).toBe('NOERROR');
    expect(result.answer[0]!.data).toBe('192.0.2.30');
  });

  it('lets a group enforce while the rest monitors, answering REFUSED with the EDE', async () => {
    const result = await dig(monitor.wp.server, TIKTOK, 'A', from('127.0.2.1'));
    expect(result.status).toBe('REFUSED');
    expect(result.ede).toEqual({ code: 15, text: 'blocked by wachtpost: owner-country:CN' });
  });
});

describe('sinkhole', () => {
  let noticePort = 0;
  const sinkhole = withKnotUpstream(async () => {
    noticePort = await freePort();
    return `mode: enforce\npolicy: { block_answer: sinkhole, sinkhole: { ipv4: 127.0.0.53, listen: "127.0.0.1:${noticePort}" } }`;
  });

  it('points blocked A queries at the sinkhole and gives other types NODATA', async () => {
    const a = await dig(sinkhole.wp.server, TIKTOK, 'A');
    expect(a.answer).toEqual([expect.objectContaining({ type: 'A', data: '127.0.0.53', ttl: 60 })]);
    expect(a.ede?.code).toBe(15);
    const aaaa = await dig(sinkhole.wp.server, TIKTOK, 'AAAA');
    expect(aaaa.status).toBe('NOERROR');
    expect(aaaa.answer).toEqual([]);
    expect(aaaa.authority[0]!.type).toBe('SOA');
  });

  it('serves a notice page naming the app, its owner and the rule', async () => {
    // What a phone's browser sends after resolving the blocked name to the sinkhole.
    const { status, page } = await new Promise<{ status: number; page: string }>((resolve, reject) => {
      const request = http.get({ host: '127.0.0.1', port: noticePort, path: '/feed/video', headers: { host: TIKTOK } }, (response) => {
        let page = '';
        response.on('data', (chunk) => (page += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, page }));
      });
      request.on('error', reject);
    });
    expect(status).toBe(451);
    expect(page).toContain('TikTok (ByteDance Ltd., CN)');
    expect(page).toContain('Rule: owner-country:CN');
  });
});
