import { afterEach, describe, expect, it } from 'vitest';
import type { DiscoveryReportMessage } from '../../src/discovery/candidate-report.js';
import { DiscoveryObserver, MAX_WORKER_CANDIDATES } from '../../src/discovery/discovery-observer.js';
import { loadConfig } from '../../src/config/load.js';
import { Query } from '../../src/pipeline/query.js';
import { Swappable } from '../../src/pipeline/swappable.js';
import { ALLOW, Verdict } from '../../src/policy/verdict.js';
import { loadDetection, type Detection } from '../../src/tagging/detection.js';
import { GeoTagger } from '../../src/tagging/geo-tagger.js';
import { WATCHLIST_HOSTED } from '../../src/tagging/answer-tags.js';
import { hostedTags, tagAnswer } from '../../src/tagging/tagger.js';
import { scanResponse, type Answer } from '../../src/wire/answer.js';
import { readRequest } from '../../src/wire/request.js';
import { ownerNetworkFixture } from '../support/owner-networks.js';
import { encodeQuery, encodeResponse, TYPE, type ResponseRecord } from '../support/packets.js';

const WINDOW_MS = 3000;
const fixture = ownerNetworkFixture();
const detection: Detection = {
  ...loadDetection(loadConfig({ text: '', overrides: { upstream: ['127.0.0.1:1'] } })),
  geo: new GeoTagger(fixture.country, fixture.asn),
};

const observers: DiscoveryObserver[] = [];
afterEach(() => {
  for (const observer of observers.splice(0)) observer.close();
});

/** An observer whose reports the test reads, sent only when it calls report(). */
function observe(): { observer: DiscoveryObserver; reports: () => DiscoveryReportMessage[] } {
  const sent: DiscoveryReportMessage[] = [];
  const observer = new DiscoveryObserver(new Swappable(detection), WINDOW_MS, (message) => sent.push(message));
  observers.push(observer);
  return {
    observer,
    reports: () => {
      observer.report();
      return sent.splice(0);
    },
  };
}

interface Asked {
  client?: string;
  at: number;
  type?: number;
  rcode?: number;
  records?: ResponseRecord[];
  verdict?: Verdict;
  /** The question's hash, when a test needs two names to share part of it. */
  key?: number;
}

/** Hands `observer` an answered query as the responder would: tagged by the real tagger, with a verdict. */
function ask(observer: DiscoveryObserver, name: string, { client = '10.64.0.7', at, type = TYPE.A, rcode = 0, records, verdict = ALLOW, key }: Asked): void {
  const query = new Query();
  readRequest(encodeQuery(name, type, { id: 9 }), query);
  if (key !== undefined) query.key = key;
  query.client = client;
  query.receivedAt = at;
  const response = encodeResponse(9, name, type, records ?? (rcode === 0 ? [{ name, type: TYPE.A, ttl: 60, address: '192.0.2.1' }] : []), { rcode });
  const answer: Answer = scanResponse(response, 9, query.question, query.questionLength, 1232).answer!;
  const tags = tagAnswer(query, answer, detection);
  // As the policy stage hands them on: a watch-listed hosting with its addresses looked up.
  query.tags = tags === WATCHLIST_HOSTED ? hostedTags(answer, detection) : tags;
  query.verdict = verdict;
  observer.answered(query, answer);
}

const TIKTOK = 'api16-normal-c-useast1a.tiktokv.com';

describe('DiscoveryObserver: names that follow an app', () => {
  it("counts a name a device asks within the window after an app's name, with the app it followed", () => {
    const { observer, reports } = observe();
    ask(observer, TIKTOK, { at: 1000 });
    ask(observer, 'edge.unlisted-cdn.example', { at: 1000 + WINDOW_MS });
    ask(observer, 'edge.unlisted-cdn.example', { at: 1500, client: '10.64.0.7', type: TYPE.AAAA });
    const [message] = reports();
    expect(message!.reports).toEqual([
      expect.objectContaining({ name: 'edge.unlisted-cdn.example', queries: 1, clients: ['10.64.0.7'], follows: [{ app: 'tiktok', count: 1 }], network: null, hosting: [] }),
      expect.objectContaining({ name: 'edge.unlisted-cdn.example', queries: 1 }),
    ]);
    expect(message!.reports[0]!.first_seen).toBe(Math.round(performance.timeOrigin + 1000 + WINDOW_MS));
  });

  it('does not count a name asked after the window, by another device, or before any app', () => {
    const { observer, reports } = observe();
    ask(observer, 'before.example', { at: 500 });
    ask(observer, TIKTOK, { at: 1000 });
    ask(observer, 'late.example', { at: 1000 + WINDOW_MS + 1 });
    ask(observer, 'other-device.example', { at: 1001, client: '10.64.0.8' });
    expect(reports()).toEqual([]);
    // A new app query opens the window again.
    ask(observer, TIKTOK, { at: 9000 });
    ask(observer, 'late.example', { at: 9001 });
    expect(reports()[0]!.reports.map((report) => report.name)).toEqual(['late.example']);
  });

  it('leaves out what can be no rule of an app: failed answers, other types, single labels, DoH endpoints, canaries', () => {
    const { observer, reports } = observe();
    ask(observer, TIKTOK, { at: 1000 });
    ask(observer, 'missing.example', { at: 1001, rcode: 3 });
    ask(observer, 'text.example', { at: 1002, type: TYPE.TXT, records: [{ name: 'text.example', type: TYPE.TXT, ttl: 60, data: 'x' }] });
    ask(observer, 'wpad', { at: 1003 });
    ask(observer, 'dns.google', { at: 1004 });
    ask(observer, 'use-application-dns.net', { at: 1005, verdict: new Verdict('block', 'canary:use-application-dns.net', null, true) });
    expect(reports()).toEqual([]);
  });
});

describe("DiscoveryObserver: names in a watch-listed owner's network or hosting", () => {
  it('counts a name that resolves into a watch-listed owner network, with owner and AS, without any app before', () => {
    const { observer, reports } = observe();
    ask(observer, 'edge.unlisted-cdn.example', { at: 1000, records: [{ name: 'edge.unlisted-cdn.example', type: TYPE.A, ttl: 60, address: '193.0.14.7' }] });
    expect(reports()[0]!.reports).toEqual([
      expect.objectContaining({ name: 'edge.unlisted-cdn.example', network: { owner: 'ByteDance Ltd.', country: 'CN', asn: 396986 }, hosting: [], follows: [] }),
    ]);
  });

  it('counts a name hosted in a watch-listed country, with country and AS', () => {
    const { observer, reports } = observe();
    ask(observer, 'cn.example', { at: 1000, records: [{ name: 'cn.example', type: TYPE.A, ttl: 60, address: '36.110.0.1' }] });
    expect(reports()[0]!.reports).toEqual([expect.objectContaining({ name: 'cn.example', network: null, hosting: [{ country: 'CN', asn: 64497 }] })]);
  });

  it('adds the app a device asked for just before, as further evidence', () => {
    const { observer, reports } = observe();
    ask(observer, TIKTOK, { at: 1000 });
    ask(observer, 'cn.example', { at: 1001, records: [{ name: 'cn.example', type: TYPE.A, ttl: 60, address: '36.110.0.1' }] });
    expect(reports()[0]!.reports).toEqual([expect.objectContaining({ name: 'cn.example', hosting: [{ country: 'CN', asn: 64497 }], follows: [{ app: 'tiktok', count: 1 }] })]);
  });

  it('does not count app names: those have a rule already', () => {
    const { observer, reports } = observe();
    ask(observer, TIKTOK, { at: 1000, records: [{ name: TIKTOK, type: TYPE.A, ttl: 60, address: '193.0.14.7' }] });
    expect(reports()).toEqual([]);
  });
});

describe('DiscoveryObserver: bounds', () => {
  it(`counts at most ${MAX_WORKER_CANDIDATES} names per report and says how many more there were`, () => {
    const { observer, reports } = observe();
    ask(observer, TIKTOK, { at: 1000 });
    for (let i = 0; i < MAX_WORKER_CANDIDATES + 10; i++) ask(observer, `n${i}.example`, { at: 1001 });
    ask(observer, 'n0.example', { at: 1002 });
    const [message] = reports();
    expect(message!.reports).toHaveLength(MAX_WORKER_CANDIDATES);
    expect(message!.overflow).toBe(10);
    expect(message!.reports[0]).toMatchObject({ name: 'n0.example', queries: 2 });
    // Each report starts afresh.
    ask(observer, 'n5000.example', { at: 1003 });
    expect(reports()).toEqual([{ type: 'discovery', reports: [expect.objectContaining({ name: 'n5000.example' })], overflow: 0 }]);
  });

  it('keeps names apart whose hashes share their low bits (one table slot), and reports no hash', () => {
    const { observer, reports } = observe();
    ask(observer, TIKTOK, { at: 1000 });
    const key = 0x1234_5678_9abc;
    for (let i = 0; i < 3; i++) {
      ask(observer, 'first.example', { at: 1001, key });
      ask(observer, 'second.example', { at: 1002, key: key + 2 ** 30 });
    }
    ask(observer, 'third.example', { at: 1003, key: key + 2 ** 31 });
    const [message] = reports();
    expect(message!.reports).toEqual([
      expect.objectContaining({ name: 'first.example', queries: 3 }),
      expect.objectContaining({ name: 'second.example', queries: 3 }),
      expect.objectContaining({ name: 'third.example', queries: 1 }),
    ]);
    expect(message!.reports[0]).not.toHaveProperty('key');
    expect(message!.overflow).toBe(0);
  });

  it('keeps a few clients per name, each once', () => {
    const { observer, reports } = observe();
    for (let i = 0; i < 20; i++) {
      ask(observer, TIKTOK, { at: 1000 + i, client: `10.64.0.${i}` });
      ask(observer, 'shared.example', { at: 1000 + i, client: `10.64.0.${i}` });
      ask(observer, 'shared.example', { at: 1000 + i, client: `10.64.0.${i}` });
    }
    const [report] = reports()[0]!.reports;
    expect(report!.queries).toBe(40);
    expect(report!.clients).toEqual(Array.from({ length: 8 }, (_, i) => `10.64.0.${i}`));
    expect(report!.follows).toEqual([{ app: 'tiktok', count: 40 }]);
  });
});
