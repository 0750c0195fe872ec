import type { DetectionEvent } from '../../src/events/detection-event.js';

/** A TikTok detection event with `overrides` applied: the common shape in event tests. */
export function sampleEvent(overrides: Partial<DetectionEvent> = {}): DetectionEvent {
  return {
    id: 0,
    ts: Date.UTC(2026, 10, 24, 12),
    kind: 'detection',
    instance: 'test',
    client: '127.0.0.9',
    group: null,
    qname: 'api16-normal-c-useast1a.tiktokv.com',
    qtype: 'A',
    rcode: 'NOERROR',
    app: { id: 'tiktok', name: 'TikTok', owner: 'ByteDance Ltd.', owner_country: 'CN' },
    matched_name: 'api16-normal-c-useast1a.tiktokv.com',
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
