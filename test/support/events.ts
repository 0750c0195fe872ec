import type { DetectionEvent, EventApp } from '../../src/events/detection-event.js';

/** What an event of `app` says about its attribution: by name, to the app's owner (none without an app). */
export function nameAttribution(app: EventApp | null): Pick<DetectionEvent, 'attribution' | 'owner'> {
  return app === null ? { attribution: null, owner: null } : { attribution: 'name', owner: { name: app.owner, country: app.owner_country } };
}

const TIKTOK: EventApp = { id: 'tiktok', name: 'TikTok', owner: 'ByteDance Ltd.', owner_country: 'CN' };

/** A TikTok detection event with `overrides` applied: the common shape in event tests. */
export function sampleEvent(overrides: Partial<DetectionEvent> = {}): DetectionEvent {
  const app = overrides.app === undefined ? TIKTOK : overrides.app;
  return {
    id: 0,
    ts: Date.UTC(2026, 10, 24, 12),
    kind: 'detection',
    instance: 'test',
    client: '127.0.0.9',
    device: null,
    group: null,
    qname: 'api16-normal-c-useast1a.tiktokv.com',
    qtype: 'A',
    rcode: 'NOERROR',
    app,
    matched_name: 'api16-normal-c-useast1a.tiktokv.com',
    ...nameAttribution(app),
    hosting: [],
    owner_watchlisted: true,
    hosting_watchlisted: false,
    action: 'monitor',
    rule: 'owner-country:CN',
    exemption: null,
    latency_ms: 0.2,
    cached: false,
    count: 1,
    ...overrides,
  };
}
