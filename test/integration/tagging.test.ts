import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { EventHub } from '../../src/events/event-hub.js';
import { NO_TAGS, tagsOf, WATCHLIST_HOSTED } from '../../src/tagging/answer-tags.js';
import { hostedTags } from '../../src/tagging/tagger.js';
import { WireRequest, readRequest } from '../../src/wire/request.js';
import { dig } from '../support/dig.js';
import { encodeQuery, TYPE } from '../support/packets.js';
import { startWachtpost, withKnotUpstream, type RunningWachtpost } from './harness.js';

const setup = withKnotUpstream();
let wp: RunningWachtpost;
beforeAll(() => {
  wp = setup.wp;
});

/** The request dig sends for `name` (EDNS, DO off): the cache key its answer is stored under. */
function request(name: string, type: number): WireRequest {
  const req = new WireRequest();
  readRequest(encodeQuery(name, type, { edns: { udp: 1232 } }), req);
  return req;
}

/** The tags stored with the cached answer dig's query left behind. */
function cachedTags(name: string, type: number) {
  const req = request(name, type);
  const cache = wp.resolver.chain.cache.cache;
  expect(cache.find(req, Date.now())).toBe(true);
  return tagsOf(cache.found.answer);
}

describe('tagging answers from a real upstream', () => {
  it("tags an app's backend by its query name, with the answer's address", async () => {
    const result = await dig(wp.server, 'api16-normal-c-useast1a.tiktokv.com', 'A');
    expect(result.answer[0]!.data).toBe('192.0.2.30');
    const tags = cachedTags('api16-normal-c-useast1a.tiktokv.com', TYPE.A);
    expect(tags.app?.id).toBe('tiktok');
    expect(tags.app?.owner_country).toBe('CN');
    expect(tags.matchedName).toBe('api16-normal-c-useast1a.tiktokv.com');
    expect(tags.addresses).toEqual(['192.0.2.30']);
  });

  it('catches a benign name whose CNAME points into an app domain', async () => {
    await dig(wp.server, 'cloaked.test.wachtpost', 'A');
    const tags = cachedTags('cloaked.test.wachtpost', TYPE.A);
    expect(tags.app?.id).toBe('tiktok');
    expect(tags.matchedName).toBe('api16-normal-c-useast1a.tiktokv.com');
    expect(tags.chain).toEqual(['api16-normal-c-useast1a.tiktokv.com']);
    // Knot, being authoritative, does not chase a CNAME into another zone: no address here.
    expect(tags.addresses).toEqual([]);
  });

  it('follows HTTPS targets and reads address hints', async () => {
    await dig(wp.server, 'svc-cloaked.test.wachtpost', 'HTTPS');
    const tags = cachedTags('svc-cloaked.test.wachtpost', TYPE.HTTPS);
    expect(tags.app?.id).toBe('tiktok');
    expect(tags.addresses).toEqual(['192.0.2.31']);
  });

  it('tags hosting country and ASN, apart from the owner jurisdiction', async () => {
    await dig(wp.server, 'cn-hosted.test.wachtpost', 'A');
    // Cached with the shared tag set that says only "hosted on the watch list"…
    const cn = cachedTags('cn-hosted.test.wachtpost', TYPE.A);
    expect(cn).toBe(WATCHLIST_HOSTED);
    expect(cn.hostingWatchlisted).toBe(true);
    // …and the hosting looked up again when it is served, for the event.
    const cache = wp.resolver.chain.cache.cache;
    expect(cache.find(request('cn-hosted.test.wachtpost', TYPE.A), Date.now())).toBe(true);
    const served = hostedTags(cache.found.answer, wp.resolver.chain.detection.current);
    expect(served.ownerWatchlisted).toBe(false);
    expect(served.hosting).toEqual([{ ip: '36.110.0.1', country: 'CN', asn: 4847, org: 'China Networks Inter-Exchange' }]);

    await dig(wp.server, 'api16-normal-c-useast1a.tiktokv.com', 'A');
    const tiktok = cachedTags('api16-normal-c-useast1a.tiktokv.com', TYPE.A);
    expect(tiktok.ownerWatchlisted).toBe(true);
    expect(tiktok.hostingWatchlisted).toBe(false); // a documentation address: no jurisdiction
  });

  it("attributes an answer of no app inside an owner's own network to that owner, by network", async () => {
    await dig(wp.server, 'ru-hosted.test.wachtpost', 'A');
    // 77.88.8.8 is in AS13238, which geo/owners.yaml gives to Yandex: the tags carry it in the cache.
    const tags = cachedTags('ru-hosted.test.wachtpost', TYPE.A);
    expect(tags.app).toBeNull();
    expect(tags.attribution).toBe('network');
    expect(tags.networkOwner).toMatchObject({ name: 'Yandex MKPAO', country: 'RU' });
    expect(tags.ownerWatchlisted).toBe(true);
    expect(tags.hostingWatchlisted).toBe(true);
    expect(tags.hosting).toEqual([{ ip: '77.88.8.8', country: 'RU', asn: 13238, org: 'YANDEX LLC' }]);
  });

  it('leaves names of no catalogued app untagged, sharing one empty tag set', async () => {
    await dig(wp.server, 'chain.test.wachtpost', 'A');
    // A CNAME chain to a documentation address: no app, no public hosting, nothing to carry.
    expect(cachedTags('chain.test.wachtpost', TYPE.A)).toBe(NO_TAGS);
    await dig(wp.server, 'cn-hosted.test.wachtpost', 'A');
    expect(cachedTags('cn-hosted.test.wachtpost', TYPE.A)).toBe(WATCHLIST_HOSTED);
    // Publicly hosted outside the watch list: nothing the policy reads, so no tags either.
    await dig(wp.server, 'nl-hosted.test.wachtpost', 'A');
    expect(cachedTags('nl-hosted.test.wachtpost', TYPE.A)).toBe(NO_TAGS);
  });
});

describe('tagging after a reload', () => {
  it('attributes a cached answer to the app its name became part of (a local rule), on the next hit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wachtpost-retag-'));
    const hub = new EventHub({ capacity: 64, firstId: 1, residualWindowMs: 60_000, pseudonymiser: null });
    const own = await startWachtpost([setup.knot], 'events:\n  fold_window_ms: 0', {}, hub);
    try {
      expect((await dig(own.server, 'multi.test.wachtpost', 'A')).status).toBe('NOERROR');
      expect(hub.ring.nextId).toBe(1); // a plain name: no event
      const rules = join(dir, 'local-rules.yaml');
      await writeFile(rules, 'rules:\n  - { app: wechat, domain: multi.test.wachtpost, source: "capture", verified: 2026-12-03 }\n');
      own.resolver.reload(
        loadConfig({ text: `events:\n  fold_window_ms: 0\ndetection:\n  local_rules: ${JSON.stringify(rules)}`, overrides: { upstream: [`127.0.0.1:${setup.knot.port}`] } }),
      );
      expect((await dig(own.server, 'multi.test.wachtpost', 'A')).status).toBe('NOERROR');
      expect(hub.ring.get(1)).toMatchObject({ qname: 'multi.test.wachtpost', cached: true, app: { id: 'wechat' }, attribution: 'name', action: 'monitor' });
      expect(hub.ring.get(1)!.hosting).toEqual([]);
    } finally {
      await own.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
