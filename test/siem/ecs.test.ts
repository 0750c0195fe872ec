import { describe, expect, it } from 'vitest';
import type { DetectionEvent, EventHosting } from '../../src/events/detection-event.js';
import { ecsDocument, MAX_HOSTING } from '../../src/siem/ecs.js';
import { sampleEvent } from '../support/events.js';

const CDN: EventHosting = { ip: '203.0.113.7', country: 'US', asn: 64500, org: 'Example CDN' };

function nullPaths(value: unknown, path = ''): string[] {
  if (value === null) return [path];
  if (typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, inner]) => nullPaths(inner, `${path}.${key}`));
}

describe('ecsDocument', () => {
  it('maps a blocked detection, folded from repeats, to ECS fields and wachtpost.* custom fields', () => {
    const event = sampleEvent({ id: 42, action: 'block', group: 'ministry', hosting: [CDN, { ip: '2001:db8::1', country: null, asn: null, org: null }], latency_ms: 1.5, count: 4 });
    expect(ecsDocument(event)).toEqual({
      '@timestamp': '2026-11-24T12:00:00.000Z',
      ecs: { version: '8.11.0' },
      message: 'block api16-normal-c-useast1a.tiktokv.com A: tiktok, rule owner-country:CN',
      event: {
        kind: 'alert',
        category: ['network'],
        type: ['denied'],
        action: 'block',
        id: '42',
        dataset: 'wachtpost.detection',
        module: 'wachtpost',
        outcome: 'success',
        duration: 1_500_000,
      },
      observer: { name: 'test', product: 'Wachtpost', vendor: 'Wachtpost', type: 'dns' },
      source: { ip: '127.0.0.9' },
      network: { protocol: 'dns' },
      dns: {
        type: 'answer',
        question: { name: 'api16-normal-c-useast1a.tiktokv.com', type: 'A' },
        response_code: 'NOERROR',
        resolved_ip: ['203.0.113.7', '2001:db8::1'],
      },
      destination: { ip: '203.0.113.7', geo: { country_iso_code: 'US' }, as: { number: 64500, organization: { name: 'Example CDN' } } },
      rule: { name: 'owner-country:CN', ruleset: 'wachtpost-policy' },
      related: { ip: ['127.0.0.9', '203.0.113.7', '2001:db8::1'] },
      labels: { kind: 'detection', app_id: 'tiktok', owner_country: 'CN', attribution: 'name', group: 'ministry' },
      wachtpost: {
        kind: 'detection',
        app: { id: 'tiktok', name: 'TikTok', owner: 'ByteDance Ltd.', owner_country: 'CN' },
        matched_name: 'api16-normal-c-useast1a.tiktokv.com',
        attribution: 'name',
        owner: { name: 'ByteDance Ltd.', country: 'CN' },
        owner_watchlisted: true,
        hosting_watchlisted: false,
        cached: false,
        count: 4,
        hosting: [CDN, { ip: '2001:db8::1' }],
        hosting_count: 2,
      },
    });
  });

  it('leaves absent values out instead of sending null', () => {
    const document = ecsDocument(sampleEvent({ app: null, matched_name: null, rule: null, hosting: [{ ip: '198.51.100.1', country: null, asn: null, org: null }] }));
    expect(nullPaths(document)).toEqual([]);
    expect(document.wachtpost.hosting).toEqual([{ ip: '198.51.100.1' }]);
    expect(document.destination).toEqual({ ip: '198.51.100.1' });
    expect(document).not.toHaveProperty('rule');
    expect(document.labels).toEqual({ kind: 'detection' });
    expect(document.message).toBe('monitor api16-normal-c-useast1a.tiktokv.com A');
  });

  it('carries a network attribution: the owner without an app, in the custom fields, labels and message', () => {
    const owner = { name: 'MKPAO Yandex', country: 'RU' };
    const document = ecsDocument(sampleEvent({ app: null, matched_name: null, attribution: 'network', owner, action: 'allow', rule: null, owner_watchlisted: true }));
    expect(document.wachtpost).toMatchObject({ attribution: 'network', owner, owner_watchlisted: true });
    expect(document.wachtpost).not.toHaveProperty('app');
    expect(document.labels).toEqual({ kind: 'detection', owner_country: 'RU', attribution: 'network' });
    expect(document.message).toBe('allow api16-normal-c-useast1a.tiktokv.com A: network of MKPAO Yandex (RU)');
  });

  it.each<[Partial<DetectionEvent>, string, string[]]>([
    [{ action: 'allow' }, 'event', ['allowed']],
    [{ action: 'monitor' }, 'event', ['allowed']],
    [{ action: 'exempt', exemption: 'press-office' }, 'event', ['allowed']],
    [{ action: 'block' }, 'alert', ['denied']],
    [{ kind: 'residual', action: 'block' }, 'alert', ['denied']],
    [{ kind: 'bypass', action: 'allow' }, 'alert', ['allowed']],
    [{ kind: 'query', action: 'allow', app: null }, 'event', ['info']],
  ])('%o is event.kind %s, event.type %o', (overrides, kind, type) => {
    const document = ecsDocument(sampleEvent(overrides));
    expect(document.event.kind).toBe(kind);
    expect(document.event.type).toEqual(type);
    expect(document.event.action).toBe(overrides.action);
  });

  it('puts a pseudonymised client into device.id and into no address field', () => {
    const pseudonym = 'p:0123456789abcdef01234567';
    const document = ecsDocument(sampleEvent({ client: pseudonym, hosting: [CDN] }));
    expect(document.device).toEqual({ id: pseudonym });
    expect(document).not.toHaveProperty('source');
    expect(document.related).toEqual({ ip: ['203.0.113.7'] });
    expect(ecsDocument(sampleEvent({ client: '2001:db8::7' }))).toMatchObject({ source: { ip: '2001:db8::7' } });
  });

  it('carries at most MAX_HOSTING hosting entries and the full count', () => {
    const hosting = Array.from({ length: 40 }, (_, i) => ({ ...CDN, ip: `203.0.113.${i + 1}` }));
    const document = ecsDocument(sampleEvent({ hosting }));
    expect(document.wachtpost.hosting).toEqual(hosting.slice(0, MAX_HOSTING));
    expect(document.dns.resolved_ip).toHaveLength(MAX_HOSTING);
    expect(document.wachtpost.hosting_count).toBe(40);
    expect(document.destination?.ip).toBe('203.0.113.1');
  });

  it('reports the resolver failing as event.outcome failure, NXDOMAIN as an answer', () => {
    expect(ecsDocument(sampleEvent({ rcode: 'SERVFAIL' })).event.outcome).toBe('failure');
    expect(ecsDocument(sampleEvent({ rcode: 'REFUSED' })).event.outcome).toBe('failure');
    expect(ecsDocument(sampleEvent({ rcode: 'NXDOMAIN' })).event.outcome).toBe('success');
  });
});
