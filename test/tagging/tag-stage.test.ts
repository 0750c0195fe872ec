import { describe, expect, it } from 'vitest';
import type { Query } from '../../src/pipeline/query.js';
import { AnswerTags, NO_TAGS, WATCHLIST_HOSTED } from '../../src/tagging/answer-tags.js';
import { TagStage } from '../../src/tagging/tag-stage.js';
import { UpstreamFailure } from '../../src/upstream/errors.js';
import { Answer } from '../../src/wire/answer.js';
import { fixtureDetection } from '../support/detection.js';
import { TYPE, type ResponseRecord } from '../support/packets.js';
import { makeQuery, StubStage, upstreamAnswer, withNext, type QuerySpec, type UpstreamReply } from '../support/stages.js';

const TIKTOK = 'api16-normal-c-useast1a.tiktokv.com';

/** Loaded once: the shipped catalogue and watch list; hosting 1.2.3.0/24 CN, 2a00:1::/32 RU, 8.8.8.0/24 US. */
const detection = fixtureDetection();

function tagStage(reply: (query: Query) => Answer, mode: 'sync' | 'async' = 'async'): { stage: TagStage; next: StubStage } {
  const next = new StubStage(reply, mode);
  return { stage: withNext(new TagStage({ current: detection }), next), next };
}

const a = (name: string, address: string): ResponseRecord => ({ name, type: TYPE.A, ttl: 300, address });
const aaaa = (name: string, address: string): ResponseRecord => ({ name, type: TYPE.AAAA, ttl: 300, address });
const cname = (name: string, target: string): ResponseRecord => ({ name, type: TYPE.CNAME, ttl: 300, domain: target });

interface Row {
  name: string;
  query: QuerySpec;
  records: (qname: string) => ResponseRecord[];
  reply?: UpstreamReply;
  expect: {
    app: string | null;
    matchedName?: string | null;
    chain?: string[];
    addresses?: string[];
    hosting?: Array<{ ip: string; country: string | null; asn: number | null }>;
    ownerWatchlisted?: boolean;
    hostingWatchlisted: boolean;
  };
}

const rows: Row[] = [
  {
    name: "an app's own name",
    query: { name: TIKTOK },
    records: (qname) => [a(qname, '192.0.2.30')],
    expect: { app: 'tiktok', matchedName: TIKTOK, chain: [], addresses: ['192.0.2.30'], hosting: [], ownerWatchlisted: true, hostingWatchlisted: false },
  },
  {
    name: "an app's name spelt in capitals",
    query: { name: 'API16-Normal-C-USEast1a.TikTokV.com' },
    records: (qname) => [a(qname, '192.0.2.30')],
    expect: { app: 'tiktok', matchedName: TIKTOK, hostingWatchlisted: false },
  },
  {
    name: "an app reached through a CNAME (cloaking), hosted in the US",
    query: { name: 'cloaked.example.nl' },
    records: (qname) => [cname(qname, 'v16.tiktokcdn.com'), a('v16.tiktokcdn.com', '8.8.8.8')],
    expect: {
      app: 'tiktok',
      matchedName: 'v16.tiktokcdn.com',
      chain: ['v16.tiktokcdn.com'],
      addresses: ['8.8.8.8'],
      hosting: [{ ip: '8.8.8.8', country: 'US', asn: 15169 }],
      ownerWatchlisted: true,
      hostingWatchlisted: false,
    },
  },
  {
    name: 'an app at the end of a CNAME chain',
    query: { name: 'www.example.nl' },
    records: (qname) => [cname(qname, 'edge.example.net'), cname('edge.example.net', 'login.vk.com'), a('login.vk.com', '192.0.2.40')],
    expect: { app: 'vk', matchedName: 'login.vk.com', chain: ['edge.example.net', 'login.vk.com'], addresses: ['192.0.2.40'], hostingWatchlisted: false },
  },
  {
    name: 'the first app along the chain when there are two',
    query: { name: TIKTOK },
    records: (qname) => [cname(qname, 'mirror.vk.com'), a('mirror.vk.com', '192.0.2.41')],
    expect: { app: 'tiktok', matchedName: TIKTOK, chain: ['mirror.vk.com'], hostingWatchlisted: false },
  },
  {
    name: 'an app hosted in a watch-listed country',
    query: { name: TIKTOK },
    records: (qname) => [a(qname, '1.2.3.4'), a(qname, '8.8.8.8')],
    expect: {
      app: 'tiktok',
      addresses: ['1.2.3.4', '8.8.8.8'],
      hosting: [
        { ip: '1.2.3.4', country: 'CN', asn: 4134 },
        { ip: '8.8.8.8', country: 'US', asn: 15169 },
      ],
      hostingWatchlisted: true,
    },
  },
  {
    name: "an app's IPv6 answer hosted in a watch-listed country",
    query: { name: 'vk.com', qtype: TYPE.AAAA },
    records: (qname) => [aaaa(qname, '2a00:1::5')],
    expect: { app: 'vk', addresses: ['2a00:1::5'], hosting: [{ ip: '2a00:1::5', country: 'RU', asn: null }], hostingWatchlisted: true },
  },
  {
    name: "NXDOMAIN for an app's name",
    query: { name: TIKTOK },
    records: () => [],
    reply: { rcode: 3, soa: { ttl: 300, minimum: 60 } },
    expect: { app: 'tiktok', matchedName: TIKTOK, chain: [], addresses: [], hosting: [], hostingWatchlisted: false },
  },
];

describe('TagStage', () => {
  it.each(rows)('tags $name', async ({ query: spec, records, reply, expect: want }) => {
    const { stage, next } = tagStage((query) => upstreamAnswer(query, records(query.qname()), reply));
    const query = makeQuery(spec);
    const answer = await stage.resolve(query);
    expect(next.calls).toBe(1);
    const tags = answer.tags as AnswerTags;
    expect(tags).toBeInstanceOf(AnswerTags);
    expect(tags.app?.id ?? null).toBe(want.app);
    const { app: _app, hosting, ...rest } = want;
    expect(tags).toMatchObject(rest);
    if (hosting !== undefined) expect(tags.hosting.map(({ ip, country, asn }) => ({ ip, country, asn }))).toEqual(hosting);
  });

  it.each([
    { name: 'a name of no app with documentation addresses', records: (q: string) => [a(q, '192.0.2.1'), a(q, '198.51.100.1')], expect: NO_TAGS },
    { name: 'a name of no app hosted outside the watch list', records: (q: string) => [cname(q, 'cdn.example.net'), a('cdn.example.net', '8.8.8.8')], expect: NO_TAGS },
    { name: 'NXDOMAIN for a name of no app', records: () => [], expect: NO_TAGS },
    { name: 'a name of no app hosted in a watch-listed country', records: (q: string) => [a(q, '8.8.8.8'), a(q, '1.2.3.4')], expect: WATCHLIST_HOSTED },
  ])('gives $name the shared tag set, no arrays of its own', async ({ records, expect: shared }) => {
    const { stage } = tagStage((query) => upstreamAnswer(query, records(query.qname())));
    const first = await stage.resolve(makeQuery('www.example.nl'));
    const second = await stage.resolve(makeQuery('mail.example.org'));
    expect(first).not.toBe(second);
    expect(first.tags).toBe(shared);
    expect(second.tags).toBe(shared);
  });

  it('leaves answers made below untagged', async () => {
    const servfail = Answer.synthetic(2, 22, 'no upstream answered');
    const { stage } = tagStage(() => servfail);
    expect(await stage.resolve(makeQuery(TIKTOK))).toBe(servfail);
    expect(servfail.tags).toBeNull();
  });

  it('never tags an answer twice', async () => {
    const shared = upstreamAnswer(makeQuery(TIKTOK), [a(TIKTOK, '1.2.3.4')]);
    const earlier = new AnswerTags(null, null, [], [], [], false, false);
    shared.tags = earlier;
    const { stage } = tagStage(() => shared);
    await stage.resolve(makeQuery(TIKTOK));
    expect(shared.tags).toBe(earlier);
  });

  it('answers through a Promise even when next answered synchronously', async () => {
    const { stage } = tagStage((query) => upstreamAnswer(query, [a(query.qname(), '192.0.2.1')]), 'sync');
    const outcome = stage.resolve(makeQuery(TIKTOK));
    expect(outcome).toBeInstanceOf(Promise);
    expect(((await outcome).tags as AnswerTags).app?.id).toBe('tiktok');
  });

  it('passes a failure below on', async () => {
    const failure = new UpstreamFailure('no upstream answered within 1500 ms');
    for (const mode of ['sync', 'async'] as const) {
      const { stage, next } = tagStage(() => upstreamAnswer(makeQuery(TIKTOK), []), mode);
      next.reply = failure;
      await expect(stage.resolve(makeQuery(TIKTOK))).rejects.toBe(failure);
    }
  });

  it('reads the detection data current at the time of the answer (reload)', async () => {
    const source = { current: detection };
    const next = new StubStage((query) => upstreamAnswer(query, [a(query.qname(), '1.2.3.4')]));
    const stage = withNext(new TagStage(source), next);
    expect((await stage.resolve(makeQuery('www.example.nl'))).tags).toBe(WATCHLIST_HOSTED);
    source.current = { ...detection, watchlist: new Set(['RU']) };
    expect((await stage.resolve(makeQuery('www.example.nl'))).tags).toBe(NO_TAGS);
  });
});
