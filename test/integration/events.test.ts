import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DetectionEvent } from '../../src/events/detection-event.js';
import { EventHub } from '../../src/events/event-hub.js';
import { dig } from '../support/dig.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { sleep, startWachtpost, type RunningWachtpost } from './harness.js';

const TIKTOK = 'api16-normal-c-useast1a.tiktokv.com';

/** A resolver in front of Knot whose events land in a hub the test reads. */
interface Recorded {
  wp: RunningWachtpost;
  hub: EventHub;
  /** Events published since the previous call. */
  take(): DetectionEvent[];
}

let knot: KnotServer;
const running: RunningWachtpost[] = [];

async function recorded(yaml: string): Promise<Recorded> {
  const hub = new EventHub({ capacity: 1024, firstId: 1, residualWindowMs: 60_000, pseudonymiser: null });
  const wp = await startWachtpost([knot], yaml, {}, hub);
  running.push(wp);
  let next = 1;
  return {
    wp,
    hub,
    take: () => {
      const events = [];
      for (; next < hub.ring.nextId; next++) events.push(hub.ring.get(next)!);
      return events;
    },
  };
}

beforeAll(async () => {
  knot = await startKnot();
}, 30_000);
afterAll(async () => {
  for (const wp of running) await wp.stop();
  await knot?.stop();
});

describe('events recorded for answered queries', () => {
  let monitor: Recorded;
  beforeAll(async () => {
    // One event per query here, so each can be checked on its own (folding has its own tests).
    monitor = await recorded('mode: monitor\ninstance: nl-dc1-a\nevents:\n  fold_window_ms: 0');
  });

  it("records an app's query with its tags, verdict, latency and cache state", async () => {
    const first = await dig(monitor.wp.server, TIKTOK, 'A');
    expect(first.status).toBe('NOERROR');
    const [event, ...rest] = monitor.take();
    expect(rest).toEqual([]);
    expect(event).toMatchObject({
      id: 1,
      kind: 'detection',
      instance: 'nl-dc1-a',
      client: '127.0.0.1',
      group: null,
      qname: TIKTOK,
      qtype: 'A',
      rcode: 'NOERROR',
      app: { id: 'tiktok', name: 'TikTok', owner_country: 'CN' },
      matched_name: TIKTOK,
      owner_watchlisted: true,
      hosting_watchlisted: false,
      action: 'monitor',
      rule: 'owner-country:CN',
      exemption: null,
      cached: false,
    });
    expect(event!.latency_ms).toBeGreaterThan(0);
    expect(Math.abs(event!.ts - Date.now())).toBeLessThan(10_000);
    await dig(monitor.wp.server, TIKTOK, 'A');
    expect(monitor.take()).toMatchObject([{ id: 2, qname: TIKTOK, cached: true, action: 'monitor' }]);
  });

  it('records watch-listed hosting with country and ASN even without an app', async () => {
    await dig(monitor.wp.server, 'cn-hosted.test.wachtpost', 'A');
    expect(monitor.take()).toMatchObject([
      {
        kind: 'detection',
        app: null,
        attribution: null,
        owner: null,
        hosting: [{ ip: '36.110.0.1', country: 'CN', asn: 4847 }],
        hosting_watchlisted: true,
        owner_watchlisted: false,
        action: 'allow',
      },
    ]);
  });

  it("records an answer inside an owner's own network as attributed by network, to the owner, without an app", async () => {
    for (const cached of [false, true]) {
      await dig(monitor.wp.server, 'ru-hosted.test.wachtpost', 'A');
      expect(monitor.take()).toMatchObject([
        {
          kind: 'detection',
          app: null,
          matched_name: null,
          attribution: 'network',
          owner: { name: 'Yandex MKPAO', country: 'RU' },
          owner_watchlisted: true,
          hosting: [{ ip: '77.88.8.8', country: 'RU', asn: 13238, org: 'YANDEX LLC' }],
          hosting_watchlisted: true,
          // Tagged, not acted on: policy.network_attribution is `tag` by default.
          action: 'allow',
          rule: null,
          cached,
        },
      ]);
    }
    // A name match says so too.
    await dig(monitor.wp.server, TIKTOK, 'AAAA');
    expect(monitor.take()).toMatchObject([{ app: { id: 'tiktok' }, attribution: 'name', owner: { name: 'ByteDance Ltd.', country: 'CN' } }]);
  });

  it('records nothing for an ordinary query', async () => {
    expect((await dig(monitor.wp.server, 'a.test.wachtpost', 'A')).status).toBe('NOERROR');
    expect(monitor.take()).toEqual([]);
  });

  it('answers the DoH and Private Relay canaries with NXDOMAIN and records them as bypass signals', async () => {
    for (const name of ['use-application-dns.net', 'mask.icloud.com', 'mask-h2.icloud.com']) {
      expect((await dig(monitor.wp.server, name, 'A')).status).toBe('NXDOMAIN');
    }
    // Only the exact canary names: a name below one is forwarded (Knot has no such zone).
    expect((await dig(monitor.wp.server, 'x.use-application-dns.net', 'A')).status).not.toBe('NXDOMAIN');
    expect(monitor.take().map((event) => [event.kind, event.qname, event.rule])).toEqual([
      ['bypass', 'use-application-dns.net', 'canary:use-application-dns.net'],
      ['bypass', 'mask.icloud.com', 'canary:mask.icloud.com'],
      ['bypass', 'mask-h2.icloud.com', 'canary:mask-h2.icloud.com'],
    ]);
  });

  it("records lookups of public DoH resolvers and of an app's own HTTPDNS host as bypass attempts", async () => {
    await dig(monitor.wp.server, 'dns.google', 'A');
    await dig(monitor.wp.server, 'mozilla.cloudflare-dns.com', 'HTTPS');
    await dig(monitor.wp.server, 'dns.weixin.qq.com', 'A');
    await dig(monitor.wp.server, 'notdns.google.example', 'A');
    expect(monitor.take().map((event) => [event.kind, event.qname, event.qtype, event.app?.id ?? null])).toEqual([
      ['bypass', 'dns.google', 'A', null],
      ['bypass', 'mozilla.cloudflare-dns.com', 'HTTPS', null],
      ['bypass', 'dns.weixin.qq.com', 'A', 'wechat'],
    ]);
  });
});

describe('events under enforcement and with every query recorded', () => {
  it('records a block with its rule and the answer the client got', async () => {
    const enforce = await recorded('mode: enforce');
    expect((await dig(enforce.wp.server, TIKTOK, 'AAAA')).status).toBe('NXDOMAIN');
    expect(enforce.take()).toMatchObject([
      { kind: 'detection', qtype: 'AAAA', rcode: 'NXDOMAIN', action: 'block', rule: 'owner-country:CN', app: { id: 'tiktok' }, matched_name: TIKTOK },
    ]);
  });

  it('acts on network attribution only when policy.network_attribution says block', async () => {
    const tagging = await recorded('mode: enforce\nevents:\n  fold_window_ms: 0');
    expect((await dig(tagging.wp.server, 'ru-hosted.test.wachtpost', 'A')).status).toBe('NOERROR');
    expect(tagging.take()).toMatchObject([{ attribution: 'network', action: 'allow', rule: null }]);
    const blocking = await recorded('mode: enforce\nevents:\n  fold_window_ms: 0\npolicy:\n  network_attribution: block');
    for (const cached of [false, true]) {
      const result = await dig(blocking.wp.server, 'ru-hosted.test.wachtpost', 'AAAA');
      expect(result.status).toBe('NXDOMAIN');
      expect(result.ede?.text).toBe('blocked by wachtpost: owner-network:RU');
      expect(blocking.take()).toMatchObject([{ attribution: 'network', owner: { country: 'RU' }, action: 'block', rule: 'owner-network:RU', rcode: 'NXDOMAIN', cached }]);
    }
    // Hosting alone is no network attribution: still allowed.
    expect((await dig(blocking.wp.server, 'cn-hosted.test.wachtpost', 'A')).status).toBe('NOERROR');
  });

  it('leaves the canaries to the upstream when they are switched off', async () => {
    const plain = await recorded('events:\n  canaries: { use_application_dns: false, icloud_private_relay: false }');
    expect((await dig(plain.wp.server, 'use-application-dns.net', 'A')).status).not.toBe('NXDOMAIN');
    expect(plain.take()).toEqual([]);
  });

  it('records plain queries as kind "query" when events.all_queries is on', async () => {
    const all = await recorded('events:\n  all_queries: true\n  fold_window_ms: 0');
    await dig(all.wp.server, 'a.test.wachtpost', 'A');
    expect(all.take()).toMatchObject([{ kind: 'query', qname: 'a.test.wachtpost', app: null, action: 'allow', rcode: 'NOERROR' }]);
    // A plain answer is cached without tags of its own; its event still says where it is hosted,
    // both fresh from the upstream and from the cache.
    for (const cached of [false, true]) {
      await dig(all.wp.server, 'nl-hosted.test.wachtpost', 'A');
      expect(all.take()).toMatchObject([
        { kind: 'query', app: null, cached, hosting: [{ ip: '193.0.14.129', country: 'NL', asn: 25152 }], hosting_watchlisted: false },
      ]);
    }
  });

  it("folds a device's repeats into one event that counts them, and sums to every query", { timeout: 30_000 }, async () => {
    // A window long enough for six digs on a loaded machine; the test waits for it to close.
    const folding = await recorded('mode: enforce\nevents:\n  fold_window_ms: 2000');
    for (let i = 0; i < 5; i++) expect((await dig(folding.wp.server, TIKTOK, 'A')).status).toBe('NXDOMAIN');
    expect((await dig(folding.wp.server, TIKTOK, 'AAAA')).status).toBe('NXDOMAIN');
    expect(folding.take()).toMatchObject([
      { qtype: 'A', action: 'block', count: 1 },
      { qtype: 'AAAA', action: 'block', count: 1 },
    ]);
    // The window closes (count out), one more passes without repeats (fold forgotten).
    let closed = folding.take();
    for (let waited = 0; closed.length === 0 && waited < 10_000; waited += 100) {
      await sleep(100);
      closed = folding.take();
    }
    expect(closed).toMatchObject([{ qtype: 'A', action: 'block', rule: 'owner-country:CN', count: 4 }]);
    // A window without repeats lets the fold go, so the next query is published at once.
    await sleep(2100);
    // Draining hands on a count still held.
    await dig(folding.wp.server, TIKTOK, 'A');
    await dig(folding.wp.server, TIKTOK, 'A');
    await folding.wp.stop();
    expect(folding.take()).toMatchObject([{ qtype: 'A', count: 1 }, { qtype: 'A', count: 1 }]);
  });

  it('is a plain caching forwarder with detection switched off: no block, no canary, no event', async () => {
    const plain = await recorded('mode: enforce\ndetection:\n  enabled: false');
    expect((await dig(plain.wp.server, TIKTOK, 'A')).status).toBe('NOERROR');
    expect((await dig(plain.wp.server, 'use-application-dns.net', 'A')).status).not.toBe('NXDOMAIN');
    expect(plain.take()).toEqual([]);
  });
});
