/**
 * Realistic events for the history benchmarks. The mix follows what the recorder publishes
 * with `events.all_queries` off and on: mostly blocks of catalogued apps (NXDOMAIN, no
 * hosting), some monitored apps with hosting, plain queries without an app, a few residual
 * and bypass events; 500 devices, a third of them pseudonymised, five groups and none.
 */
import type { DetectionEvent, EventApp, EventHosting } from '../../src/events/detection-event.js';

const APPS: readonly (EventApp & { domain: string })[] = [
  { id: 'tiktok', name: 'TikTok', owner: 'ByteDance Ltd.', owner_country: 'CN', domain: 'tiktokv.com' },
  { id: 'wechat', name: 'WeChat', owner: 'Tencent Holdings Ltd.', owner_country: 'CN', domain: 'weixin.qq.com' },
  { id: 'telegram', name: 'Telegram', owner: 'Telegram FZ-LLC', owner_country: 'AE', domain: 'telegram.org' },
  { id: 'kaspersky', name: 'Kaspersky', owner: 'AO Kaspersky Lab', owner_country: 'RU', domain: 'kaspersky.com' },
  { id: 'yandex', name: 'Yandex', owner: 'Yandex LLC', owner_country: 'RU', domain: 'yandex.net' },
];
const GROUPS = ['ministry', 'police', 'defence', 'health', 'finance', null];
const HOSTINGS: readonly EventHosting[] = [
  { ip: '203.0.113.7', country: 'US', asn: 64500, org: 'Example CDN' },
  { ip: '198.51.100.20', country: 'NL', asn: 64501, org: 'Example Hosting B.V.' },
  { ip: '192.0.2.33', country: 'CN', asn: 45090, org: 'Tencent' },
  { ip: '2001:db8::25', country: 'DE', asn: 64502, org: null },
  { ip: '203.0.113.99', country: null, asn: null, org: null },
];
const DEVICES = Array.from({ length: 500 }, (_, i) =>
  i % 3 === 0 ? `p:${(0x1000_0000 + i * 7919).toString(16).padStart(24, '0')}` : `10.64.${i >> 8}.${i & 255}`,
);

/** A small deterministic PRNG, so every run writes the same events. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** An app's events are attributed by name to its owner. */
function byName(app: EventApp): Pick<DetectionEvent, 'attribution' | 'owner'> {
  return { attribution: 'name', owner: { name: app.owner, country: app.owner_country } };
}

function pick<T>(next: () => number, items: readonly T[]): T {
  return items[Math.floor(next() * items.length)]!;
}

/** `count` event templates; the benchmark only renumbers and re-times them. */
export function templates(count: number, seed: number, blocksOnly: boolean): DetectionEvent[] {
  const next = random(seed);
  return Array.from({ length: count }, (_, i): DetectionEvent => {
    const roll = blocksOnly ? 0 : next();
    const app = pick(next, APPS);
    const hosting = [pick(next, HOSTINGS), ...(next() < 0.3 ? [pick(next, HOSTINGS)] : [])];
    const base = {
      id: 0,
      ts: 0,
      instance: 'wp-1',
      client: pick(next, DEVICES),
      device: null,
      group: pick(next, GROUPS),
      qtype: next() < 0.8 ? 'A' : 'AAAA',
      owner_watchlisted: false,
      hosting_watchlisted: false,
      exemption: null,
      latency_ms: Math.round(next() * 40_000) / 1000,
      cached: next() < 0.6,
      count: 1,
    };
    const appName = `api${i % 1000}-normal.${app.domain}`;
    const { domain: _domain, ...eventApp } = app;
    if (roll < 0.55 || roll >= 0.97) {
      // A block (or, for the last 3 %, its residual repeat): NXDOMAIN, no addresses.
      return { ...base, kind: roll < 0.55 ? 'detection' : 'residual', qname: appName, rcode: 'NXDOMAIN', app: eventApp, matched_name: app.domain, ...byName(eventApp), hosting: [], owner_watchlisted: true, action: 'block', rule: `owner-country:${app.owner_country}` };
    }
    if (roll < 0.7) {
      return { ...base, kind: 'detection', qname: appName, rcode: 'NOERROR', app: eventApp, matched_name: app.domain, ...byName(eventApp), hosting, action: 'monitor', rule: `app:${app.id}` };
    }
    if (roll < 0.72) {
      return { ...base, kind: 'bypass', qname: 'dns.google', rcode: 'NOERROR', app: null, matched_name: 'dns.google', attribution: null, owner: null, hosting, action: 'monitor', rule: 'bypass' };
    }
    // A plain query (events.all_queries): no app, no rule.
    return { ...base, kind: 'query', qname: `host${i % 5000}.example${i % 37}.nl`, rcode: 'NOERROR', app: null, matched_name: null, attribution: null, owner: null, hosting, action: 'allow', rule: null };
  });
}
