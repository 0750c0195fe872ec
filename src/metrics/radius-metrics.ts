import type { Registry } from 'prom-client';
import { collectedCounter, collectedGauge } from './collected-counter.js';

/** What the RADIUS accounting metrics read at scrape time (radius/ keeps the counts). */
export interface RadiusReadings {
  /** Datagrams by outcome: accepted, or why they were dropped unanswered. */
  readonly packets: Readonly<Record<string, number>>;
  /** Accepted records by what they did to the table (mapped, unmapped, kept, stale_stop, …). */
  readonly applied: Readonly<Partial<Record<string, number>>>;
  readonly sessions: () => number;
  readonly table: { readonly expired: number; readonly evicted: number };
}

/** RADIUS accounting metrics in the primary's registry, when identity.radius.listen is set. */
export function registerRadiusMetrics(registry: Registry, readings: RadiusReadings): void {
  collectedCounter(registry, 'wachtpost_radius_packets_total', 'RADIUS accounting datagrams by outcome: accepted, or dropped unanswered (unknown_client, malformed, not_accounting, bad_authenticator)', ['outcome'], (metric) => {
    for (const [outcome, count] of Object.entries(readings.packets)) metric.inc({ outcome }, count);
  });
  collectedCounter(registry, 'wachtpost_radius_records_total', 'Accepted accounting records by what they did to the session table', ['result'], (metric) => {
    for (const [result, count] of Object.entries(readings.applied)) metric.inc({ result }, count ?? 0);
  });
  collectedGauge(registry, 'wachtpost_radius_sessions', 'VPN sessions whose address names a device now', [], 'sum', (metric) => metric.set(readings.sessions()));
  collectedCounter(registry, 'wachtpost_radius_sessions_expired_total', 'Sessions ended because they reported nothing within identity.radius.session_timeout_s', [], (metric) =>
    metric.inc(readings.table.expired),
  );
  collectedCounter(registry, 'wachtpost_radius_sessions_evicted_total', 'Sessions pushed out by a new one at identity.radius.max_sessions', [], (metric) =>
    metric.inc(readings.table.evicted),
  );
}
