import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import type { Query } from '../../src/pipeline/query.js';
import { Policy } from '../../src/policy/policy.js';
import { PolicyStage } from '../../src/policy/policy-stage.js';
import { NO_TAGS, tagsOf, WATCHLIST_HOSTED } from '../../src/tagging/answer-tags.js';
import { tagAnswer } from '../../src/tagging/tagger.js';
import { UpstreamFailure } from '../../src/upstream/errors.js';
import { Answer, AnswerKind, BlockedAnswer } from '../../src/wire/answer.js';
import { fixtureDetection, testConfig } from '../support/detection.js';
import { TYPE } from '../support/packets.js';
import { addressAnswer, makeQuery, resolveNow, served, StubStage, upstreamAnswer, withNext, type QuerySpec } from '../support/stages.js';

const TIKTOK = 'api16-normal-c-useast1a.tiktokv.com';
const WECHAT = 'weixin.qq.com';
const CLOAKED = 'cloaked.example.nl';

/** Client groups by address pool (the longest prefix wins) and their exemptions. */
const GROUPS = `
policy:
  groups:
    - { name: inspection, organisation: ILT, cidrs: ["10.1.0.0/16"] }
    - { name: inspection-desk, organisation: ILT front desk, cidrs: ["10.1.2.0/24"] }
    - { name: observers, organisation: a unit that only watches, cidrs: ["10.2.0.0/16", "2001:db8:2::/48"], mode: monitor }
    - { name: investigation, organisation: FIOD, cidrs: ["10.3.0.0/16"] }
    - { name: managed, organisation: managed devices, cidrs: ["10.4.0.0/16"], managed_apps: [wechat] }
  exemptions:
    - { id: EX-VALID, group: inspection, apps: [tiktok], legal_basis: inspection, reason: advertising supervision, approved_by: CIO, expires: 2099-12-31 }
    - { id: EX-EXPIRED, group: investigation, apps: [tiktok], legal_basis: investigation, reason: closed case, approved_by: CIO, expires: 2024-06-30 }
`;

/** Loaded once: the shipped catalogue and watch list with fixture hosting (1.2.3.0/24 is CN). */
const detection = fixtureDetection();

/** The answer as the tag stage below would have left it: tagged once, with the real tagger. */
function tagged(query: Query, answer: Answer): Answer {
  answer.tags = tagAnswer(query, answer, detection);
  return answer;
}

/** What the upstream has for each test name: an address, or a CNAME into TikTok's CDN. */
function upstream(query: Query): Answer {
  const name = query.qname();
  if (name === CLOAKED) {
    return tagged(query, upstreamAnswer(query, [
      { name, type: TYPE.CNAME, ttl: 300, domain: 'v16.tiktokcdn.com' },
      { name: 'v16.tiktokcdn.com', type: TYPE.A, ttl: 300, address: '192.0.2.30' },
    ]));
  }
  const address = name === 'cn-hosted.example.nl' ? '1.2.3.4' : query.qtype === TYPE.AAAA ? '2001:db8::30' : '192.0.2.30';
  return tagged(query, addressAnswer(query, address));
}

function policyStage(config: Config, mode: 'sync' | 'async' = 'sync'): { stage: PolicyStage; next: StubStage; policy: { current: Policy } } {
  const policy = { current: Policy.compile(config, detection.catalogue, detection.watchlist) };
  const next = new StubStage(upstream, mode);
  return { stage: withNext(new PolicyStage(policy, { current: detection }), next), next, policy };
}

interface Row extends QuerySpec {
  expect: { group: string | null; action: string; rule: string | null; exemption?: string; rcode: number; nextCalls: number };
}

const enforceRows: Row[] = [
  { name: TIKTOK, client: '10.9.0.1', expect: { group: null, action: 'block', rule: 'owner-country:CN', rcode: 3, nextCalls: 0 } },
  { name: TIKTOK, client: '10.1.0.5', expect: { group: 'inspection', action: 'exempt', rule: 'owner-country:CN', exemption: 'EX-VALID', rcode: 0, nextCalls: 1 } },
  { name: TIKTOK, client: '10.1.2.5', expect: { group: 'inspection-desk', action: 'block', rule: 'owner-country:CN', rcode: 3, nextCalls: 0 } },
  { name: TIKTOK, client: '10.2.0.5', expect: { group: 'observers', action: 'monitor', rule: 'owner-country:CN', rcode: 0, nextCalls: 1 } },
  { name: TIKTOK, client: '2001:db8:2::5', expect: { group: 'observers', action: 'monitor', rule: 'owner-country:CN', rcode: 0, nextCalls: 1 } },
  { name: TIKTOK, client: '::ffff:10.2.0.5', expect: { group: 'observers', action: 'monitor', rule: 'owner-country:CN', rcode: 0, nextCalls: 1 } },
  { name: TIKTOK, client: '10.3.0.5', expect: { group: 'investigation', action: 'block', rule: 'owner-country:CN', rcode: 3, nextCalls: 0 } },
  { name: TIKTOK, client: '10.4.0.5', expect: { group: 'managed', action: 'block', rule: 'managed-device:managed', rcode: 3, nextCalls: 0 } },
  { name: WECHAT, client: '10.4.0.5', expect: { group: 'managed', action: 'allow', rule: null, rcode: 0, nextCalls: 1 } },
  { name: WECHAT, client: '10.9.0.1', expect: { group: null, action: 'block', rule: 'owner-country:CN', rcode: 3, nextCalls: 0 } },
  { name: 'www.example.nl', client: '10.9.0.1', expect: { group: null, action: 'allow', rule: null, rcode: 0, nextCalls: 1 } },
  { name: CLOAKED, client: '10.9.0.1', expect: { group: null, action: 'block', rule: 'owner-country:CN', rcode: 3, nextCalls: 1 } },
  { name: CLOAKED, client: '10.1.0.5', expect: { group: 'inspection', action: 'exempt', rule: 'owner-country:CN', exemption: 'EX-VALID', rcode: 0, nextCalls: 1 } },
  { name: CLOAKED, client: '10.2.0.5', expect: { group: 'observers', action: 'monitor', rule: 'owner-country:CN', rcode: 0, nextCalls: 1 } },
];

describe('PolicyStage in enforce mode, by client group', () => {
  const config = testConfig(`mode: enforce\n${GROUPS}`);

  it.each(enforceRows)('$name from $client → $expect.action ($expect.rule)', ({ expect: want, ...spec }) => {
    const { stage, next } = policyStage(config);
    const query = makeQuery(spec);
    const reply = served(query, resolveNow(stage, query));
    expect(reply.rcode).toBe(want.rcode);
    expect(query.group?.name ?? null).toBe(want.group);
    expect(query.verdict).toMatchObject({ action: want.action, rule: want.rule, exemption: want.exemption ?? null, bypassSignal: false });
    expect(next.calls).toBe(want.nextCalls);
    if (want.rcode === 0) expect(reply.data.at(-1)).toBe('192.0.2.30');
  });

  it('reports the exemption that was already past its date when the policy was compiled', () => {
    expect(policyStage(config).policy.current.expired).toEqual(['EX-EXPIRED (group investigation) expired on 2024-06-30']);
  });

  it("judges an app's own name before asking upstream, with the tags the verdict was taken on", () => {
    const { stage, next } = policyStage(config);
    const query = makeQuery({ name: TIKTOK, client: '10.9.0.1' });
    resolveNow(stage, query);
    expect(next.calls).toBe(0);
    expect(query.tags).toMatchObject({ matchedName: TIKTOK, ownerWatchlisted: true, hostingWatchlisted: false });
    expect(tagsOf(query).app?.id).toBe('tiktok');
  });

  it('judges an app reached through a CNAME on the answer, and names the CNAME target in its tags', () => {
    const { stage } = policyStage(config);
    const query = makeQuery({ name: CLOAKED, client: '10.9.0.1' });
    const answer = resolveNow(stage, query);
    expect(answer).toBeInstanceOf(BlockedAnswer);
    expect(query.tags).toMatchObject({ matchedName: 'v16.tiktokcdn.com', chain: ['v16.tiktokcdn.com'] });
  });

  it('judges one cached answer per client: the exempt client gets it, the next client a block, then the exempt one again', () => {
    const query = makeQuery(CLOAKED);
    const cached = upstream(query);
    const { stage, next } = policyStage(config);
    next.reply = cached;
    expect(resolveNow(stage, makeQuery({ name: CLOAKED, client: '10.1.0.5' }))).toBe(cached);
    expect(resolveNow(stage, makeQuery({ name: CLOAKED, client: '10.9.0.1' }))).toBeInstanceOf(BlockedAnswer);
    expect(resolveNow(stage, makeQuery({ name: CLOAKED, client: '10.1.0.7' }))).toBe(cached);
    expect(cached.tags).not.toBeNull();
    expect(next.calls).toBe(3);
  });

  it('judges a fresh answer (a Promise from below) as it judges a cached one', async () => {
    const { stage } = policyStage(config, 'async');
    const blockedQuery = makeQuery({ name: CLOAKED, client: '10.9.0.1' });
    const outcome = stage.resolve(blockedQuery);
    expect(outcome).toBeInstanceOf(Promise);
    expect(served(blockedQuery, await outcome).rcode).toBe(3);
    expect(blockedQuery.verdict?.action).toBe('block');
    const exemptQuery = makeQuery({ name: CLOAKED, client: '10.1.0.5' });
    expect(served(exemptQuery, await stage.resolve(exemptQuery)).data).toEqual(['v16.tiktokcdn.com', '192.0.2.30']);
    expect(exemptQuery.verdict?.action).toBe('exempt');
  });

  it.each([
    { made: 'SERVFAIL', answer: Answer.synthetic(2, 22, 'no upstream'), mode: 'sync' as const },
    { made: 'SERVFAIL', answer: Answer.synthetic(2, 22, 'no upstream'), mode: 'async' as const },
    { made: 'REFUSED', answer: Answer.synthetic(5), mode: 'sync' as const },
  ])('passes a $made made below ($mode) through without a verdict', async ({ answer, mode }) => {
    const { stage, next } = policyStage(config, mode);
    next.reply = answer;
    const query = makeQuery({ name: CLOAKED, client: '10.1.2.5' });
    expect(await stage.resolve(query)).toBe(answer);
    expect(query.verdict).toBeNull();
    expect(query.tags).toBeNull();
    expect(query.group?.name).toBe('inspection-desk');
  });

  it('lets a failure below reach the caller, thrown or rejected', async () => {
    const failure = new UpstreamFailure('no upstream answered');
    const sync = policyStage(config, 'sync');
    sync.next.reply = failure;
    expect(() => sync.stage.resolve(makeQuery({ name: 'www.example.nl', client: '10.9.0.1' }))).toThrow(failure);
    const async = policyStage(config, 'async');
    async.next.reply = failure;
    await expect(async.stage.resolve(makeQuery({ name: 'www.example.nl', client: '10.9.0.1' }))).rejects.toBe(failure);
  });

  it('applies a reloaded policy to the next query', () => {
    const { stage, policy } = policyStage(config);
    expect(resolveNow(stage, makeQuery({ name: TIKTOK, client: '10.9.0.1' })).rcode).toBe(3);
    policy.current = Policy.compile(testConfig(`mode: monitor\n${GROUPS}`), detection.catalogue, detection.watchlist);
    const query = makeQuery({ name: TIKTOK, client: '10.9.0.1' });
    expect(resolveNow(stage, query).rcode).toBe(0);
    expect(query.verdict?.action).toBe('monitor');
  });
});

describe('PolicyStage in monitor mode', () => {
  const config = testConfig(GROUPS);

  it.each([
    { name: TIKTOK, client: '10.9.0.1', expect: { action: 'monitor', rule: 'owner-country:CN' } },
    { name: CLOAKED, client: '10.9.0.1', expect: { action: 'monitor', rule: 'owner-country:CN' } },
    { name: TIKTOK, client: '10.1.0.5', expect: { action: 'exempt', rule: 'owner-country:CN' } },
    { name: TIKTOK, client: '10.4.0.5', expect: { action: 'monitor', rule: 'managed-device:managed' } },
    { name: 'www.example.nl', client: '10.9.0.1', expect: { action: 'allow', rule: null } },
  ])('$name from $client is answered and recorded as $expect.action', ({ expect: want, ...spec }) => {
    const { stage, next } = policyStage(config);
    const query = makeQuery(spec);
    expect(served(query, resolveNow(stage, query)).rcode).toBe(0);
    expect(query.verdict).toMatchObject(want);
    expect(next.calls).toBe(1);
  });
});

describe('PolicyStage rules', () => {
  it.each([
    { rule: 'block_apps [tiktok]', yaml: 'block_watchlisted_owners: false, block_apps: [tiktok]', name: TIKTOK, expect: { action: 'block', rule: 'app:tiktok' } },
    { rule: 'block_apps [tiktok]', yaml: 'block_watchlisted_owners: false, block_apps: [tiktok]', name: WECHAT, expect: { action: 'allow', rule: null } },
    { rule: 'block_categories [messaging]', yaml: 'block_watchlisted_owners: false, block_categories: [messaging]', name: WECHAT, expect: { action: 'block', rule: 'category:messaging' } },
    { rule: 'block_categories [messaging]', yaml: 'block_watchlisted_owners: false, block_categories: [messaging]', name: TIKTOK, expect: { action: 'allow', rule: null } },
    { rule: 'hosting block', yaml: 'hosting: block', name: 'cn-hosted.example.nl', expect: { action: 'block', rule: 'hosting-country' } },
    { rule: 'hosting tag', yaml: 'hosting: tag', name: 'cn-hosted.example.nl', expect: { action: 'allow', rule: null } },
  ])('$rule: $name → $expect.action', ({ yaml, name, expect: want }) => {
    const { stage } = policyStage(testConfig(`mode: enforce\npolicy: { ${yaml} }`));
    const query = makeQuery({ name, client: '10.9.0.1' });
    resolveNow(stage, query);
    expect(query.verdict).toMatchObject(want);
  });

  it('looks the hosting of a watch-listed answer up again for the event, whatever the verdict', () => {
    const { stage } = policyStage(testConfig('policy: { hosting: tag }'));
    const query = makeQuery({ name: 'cn-hosted.example.nl', client: '10.9.0.1' });
    const answer = resolveNow(stage, query);
    expect(answer.tags).toBe(WATCHLIST_HOSTED);
    expect(query.tags).toMatchObject({ app: null, hostingWatchlisted: true, hosting: [{ ip: '1.2.3.4', country: 'CN', asn: 4134, org: 'Chinanet' }] });
    const clean = makeQuery({ name: 'www.example.nl', client: '10.9.0.1' });
    resolveNow(stage, clean);
    expect(clean.tags).toBe(NO_TAGS);
  });
});

describe('PolicyStage block answers', () => {
  const SINKHOLE = 'sinkhole: { ipv4: 192.0.2.53, ipv6: "2001:db8::53" }';
  it.each([
    { style: 'nxdomain', qtype: TYPE.A, expect: { rcode: 3, data: [], ttls: [120], soa: true } },
    { style: 'nxdomain', qtype: TYPE.HTTPS, expect: { rcode: 3, data: [], ttls: [120], soa: true } },
    { style: 'null', qtype: TYPE.A, expect: { rcode: 0, data: ['0.0.0.0'], ttls: [120], soa: false } },
    { style: 'null', qtype: TYPE.AAAA, expect: { rcode: 0, data: ['::'], ttls: [120], soa: false } },
    { style: 'null', qtype: TYPE.TXT, expect: { rcode: 0, data: [], ttls: [120], soa: true } },
    { style: 'refused', qtype: TYPE.A, expect: { rcode: 5, data: [], ttls: [], soa: false } },
    { style: 'sinkhole', qtype: TYPE.A, expect: { rcode: 0, data: ['192.0.2.53'], ttls: [120], soa: false } },
    { style: 'sinkhole', qtype: TYPE.AAAA, expect: { rcode: 0, data: ['2001:db8::53'], ttls: [120], soa: false } },
  ])('block_answer $style for qtype $qtype', ({ style, qtype, expect: want }) => {
    const config = testConfig(`mode: enforce\npolicy: { block_answer: "${style}", block_ttl: 120, ${SINKHOLE} }`);
    const { stage, next } = policyStage(config);
    const query = makeQuery({ name: TIKTOK, qtype, client: '10.9.0.1' });
    const answer = resolveNow(stage, query);
    expect(answer).toMatchObject({ kind: AnswerKind.BLOCKED, edeCode: 15 });
    expect(answer.edeText.toString()).toBe('blocked by wachtpost: owner-country:CN');
    expect(served(query, answer)).toEqual(want);
    expect(next.calls).toBe(0);
  });

  it('builds one block answer per rule and shares it between queries', () => {
    const { stage } = policyStage(testConfig('mode: enforce'));
    const first = resolveNow(stage, makeQuery({ name: TIKTOK, client: '10.9.0.1' }));
    expect(resolveNow(stage, makeQuery({ name: 'www.tiktok.com', client: '10.9.0.2' }))).toBe(first);
    expect(resolveNow(stage, makeQuery({ name: WECHAT, client: '10.9.0.1' }))).toBe(first);
  });
});

describe('PolicyStage and the calendar', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('applies an exemption through its last day (UTC) and not a moment after', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.parse('2030-01-01T12:00:00Z'));
    const config = testConfig(`mode: enforce\n${GROUPS.replace('2099-12-31', '2030-01-31')}`);
    const { stage, policy } = policyStage(config);
    expect(policy.current.expired).toEqual(['EX-EXPIRED (group investigation) expired on 2024-06-30']);
    const ask = (): string | undefined => {
      const query = makeQuery({ name: TIKTOK, client: '10.1.0.5' });
      resolveNow(stage, query);
      return query.verdict?.action;
    };
    vi.setSystemTime(Date.parse('2030-01-31T23:59:59.999Z'));
    expect(ask()).toBe('exempt');
    vi.setSystemTime(Date.parse('2030-02-01T00:00:00Z'));
    expect(ask()).toBe('block');
  });
});

describe('client groups by device', () => {
  const DEVICE_GROUPS = `
policy:
  groups:
    - { name: pool, organisation: VPN pool, cidrs: ["10.9.0.0/16"] }
    - { name: inspectors, organisation: ILT phones, devices: ["insp-*", "Tablet-1"], mode: monitor }
`;

  it('judges an identified device by its device group, before its address', async () => {
    const { stage } = policyStage(testConfig(`mode: enforce\n${DEVICE_GROUPS}`));
    const fromDevice = makeQuery({ name: TIKTOK, client: '10.9.0.7' });
    fromDevice.device = 'insp-42';
    await resolveNow(stage, fromDevice);
    expect(fromDevice.group?.name).toBe('inspectors');
    expect(fromDevice.verdict?.action).toBe('monitor');
    const fromPool = makeQuery({ name: TIKTOK, client: '10.9.0.7' });
    fromPool.device = 'phone-1';
    await resolveNow(stage, fromPool);
    expect(fromPool.group?.name).toBe('pool');
    expect(fromPool.verdict?.action).toBe('block');
  });

  it('needs cidrs or devices in a group, and refuses a bad device pattern', () => {
    const config = testConfig('policy:\n  groups:\n    - { name: empty, organisation: X }\n    - { name: bad, organisation: Y, devices: ["a*b*"] }\n');
    expect(() => Policy.compile(config, detection.catalogue, detection.watchlist)).toThrow(/group "empty" needs cidrs, devices or both[\s\S]*"a\*b\*" is not a device id/);
  });
});
