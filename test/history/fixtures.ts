import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { vi } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import type { DetectionEvent, EventApp } from '../../src/events/detection-event.js';
import { EventHub } from '../../src/events/event-hub.js';
import type { Pseudonymiser } from '../../src/events/pseudonymiser.js';
import { History } from '../../src/history/history.js';
import { nameAttribution } from '../support/events.js';

export const silentLog = pino({ level: 'silent' });

export const TIKTOK: EventApp = { id: 'tiktok', name: 'TikTok', owner: 'ByteDance Ltd.', owner_country: 'CN' };
export const WECHAT: EventApp = { id: 'wechat', name: 'WeChat', owner: 'Tencent Holdings Ltd.', owner_country: 'CN' };
export const TELEGRAM: EventApp = { id: 'telegram', name: 'Telegram', owner: 'Telegram FZ-LLC', owner_country: 'AE' };

/** 2025-03-10T12:00:00Z: tests place events relative to a fixed instant. */
export const T0 = Date.UTC(2025, 2, 10, 12);
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** A blocked TikTok lookup; override what a test is about. */
export function makeEvent(overrides: Partial<DetectionEvent> = {}): DetectionEvent {
  const app = overrides.app === undefined ? TIKTOK : overrides.app;
  return {
    id: 0,
    ts: T0,
    kind: 'detection',
    instance: 'wp-1',
    client: '10.64.0.7',
    device: null,
    group: 'ministry',
    qname: 'api16-normal-c-useast1a.tiktokv.com',
    qtype: 'A',
    rcode: 'NOERROR',
    app,
    matched_name: 'tiktokv.com',
    ...nameAttribution(app),
    hosting: [{ ip: '203.0.113.7', country: 'US', asn: 64500, org: 'Example CDN' }],
    owner_watchlisted: true,
    hosting_watchlisted: false,
    action: 'block',
    rule: 'owner-country:CN',
    exemption: null,
    latency_ms: 12.5,
    cached: false,
    count: 1,
    ...overrides,
  };
}

export function historySettings(path: string, overrides: Partial<Config['history']> = {}): Config['history'] {
  return {
    path,
    retention_days: { detection: 90, residual: 60, bypass: 30, query: 7, audit: 365 },
    purge_interval_s: 3600,
    ...overrides,
  };
}

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'wachtpost-history-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A history in a fresh temporary directory; close() closes it and removes the directory. */
export async function tempHistory(): Promise<{ history: History; close: () => Promise<void> }> {
  const temp = await tempDir();
  const history = History.open(historySettings(join(temp.dir, 'h.sqlite')), silentLog);
  return {
    history,
    close: async () => {
      await history.close();
      await temp.cleanup();
    },
  };
}

/** A hub numbered after the history's last id or reservation, reserving its ids there, with the history attached, as serve wires them. */
export function attachedHub(history: History, options: { capacity?: number; pseudonymiser?: Pseudonymiser } = {}): EventHub {
  const hub = new EventHub({
    capacity: options.capacity ?? 4096,
    firstId: Math.max(history.maxId(), history.ids.reserved()) + 1,
    residualWindowMs: 300_000,
    pseudonymiser: options.pseudonymiser ?? null,
    ids: history.ids,
  });
  history.attach(hub);
  return hub;
}

/** Publishes copies of `events` (the hub numbers and may rewrite them) and returns what was published. */
export function publishAll(hub: EventHub, events: readonly DetectionEvent[]): DetectionEvent[] {
  return events.map((event) => {
    const copy = { ...event };
    hub.publish(copy);
    return copy;
  });
}

/** Waits until the writer has written `count` events in total. */
export async function written(history: History, count: number): Promise<void> {
  await vi.waitFor(() => {
    if (history.counters.written < count) throw new Error(`written ${history.counters.written} of ${count}`);
  }, { timeout: 5000, interval: 20 });
}

/** Every stored event, oldest first. */
export function allEvents(history: History): DetectionEvent[] {
  return history.events({ limit: 1000 }).items.reverse();
}
