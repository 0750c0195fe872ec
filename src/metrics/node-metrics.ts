import { Gauge, Registry } from 'prom-client';
import { collectedCounter, collectedGauge } from './collected-counter.js';

/** One SIEM sink's counts. */
export interface SinkReadings {
  readonly exported: number;
  readonly dropped: number;
  readonly errors: number;
  readonly truncated: number;
}

/**
 * What the node metrics read at scrape time, from the primary's side of the event path:
 * the hub, the history (absent when off), the feed and each SIEM sink by name.
 */
export interface NodeReadings {
  readonly hub: { readonly published: number; readonly droppedInWorkers: number };
  readonly history: () => {
    readonly written: number;
    readonly batches: number;
    readonly failures: number;
    readonly lost: number;
    /** Events in the ring not yet written. */
    readonly backlog: number;
    /** Bytes of the SQLite file and its write-ahead log. */
    readonly sizeBytes: number;
  } | null;
  readonly feed: {
    readonly clients: number;
    readonly sent: number;
    readonly gaps: number;
    readonly missed: number;
    readonly refused: number;
    readonly slowCloses: number;
  };
  /** Each SIEM sink's counts, by sink name. */
  readonly siem: () => ReadonlyArray<readonly [string, SinkReadings]>;
  readonly health: {
    /** DNS is served (every worker bound, not draining). */
    ready(): boolean;
    /** Each part that can degrade the node (history, redis, upstream: those in use) and whether it does now. */
    components(): ReadonlyArray<readonly [string, boolean]>;
  };
  /** Failed authentication of the API, feed and sign-in, and requests refused for it. */
  readonly auth: { readonly failures: number; readonly throttled: number };
}

/** The primary's own registry: hub, history, feed, SIEM and authentication counters, collected at scrape time. */
export function nodeRegistry(readings: NodeReadings): Registry {
  const { hub, feed, auth } = readings;
  const registry = new Registry();
  const counter = (name: string, help: string, read: () => number): void => collectedCounter(registry, name, help, [], (metric) => metric.inc(read()));
  counter('wachtpost_events_published_total', 'Events taken into the hub (after worker batching)', () => hub.published);
  counter('wachtpost_events_dropped_in_workers_total', 'Events workers dropped because the hub did not keep up', () => hub.droppedInWorkers);
  counter('wachtpost_events_stored_total', 'Events written to the history', () => readings.history()?.written ?? 0);
  counter('wachtpost_history_batches_total', 'History write transactions', () => readings.history()?.batches ?? 0);
  counter('wachtpost_history_write_failures_total', 'History writes the database refused (each retried)', () => readings.history()?.failures ?? 0);
  counter('wachtpost_events_store_lost_total', 'Events the history writer missed because it fell behind the ring', () => readings.history()?.lost ?? 0);
  counter('wachtpost_feed_events_sent_total', 'Events sent to feed clients', () => feed.sent);
  counter('wachtpost_feed_gaps_total', 'Gap notices sent to feed clients that fell behind', () => feed.gaps);
  counter('wachtpost_feed_events_missed_total', 'Events feed clients lost because they fell a ring behind', () => feed.missed);
  counter('wachtpost_feed_refused_total', 'Feed connections refused because the client limit was reached', () => feed.refused);
  counter('wachtpost_feed_slow_closes_total', 'Feed clients closed for staying too far behind', () => feed.slowCloses);
  counter('wachtpost_auth_failures_total', 'Requests to the API, feed or sign-in with a missing, unknown or expired token or session', () => auth.failures);
  counter('wachtpost_auth_throttled_total', 'Requests refused with 429 because their source failed authentication too often', () => auth.throttled);
  const siemCounter = (name: string, help: string, field: keyof SinkReadings): void =>
    collectedCounter(registry, name, help, ['sink'], (metric) => {
      for (const [sink, counters] of readings.siem()) metric.inc({ sink }, counters[field]);
    });
  siemCounter('wachtpost_siem_exported_total', 'Events handed to a SIEM sink (syslog socket or JSON-lines file)', 'exported');
  siemCounter('wachtpost_siem_dropped_total', 'Events a SIEM sink never sent: queue full, send failed, or overwritten in the ring first', 'dropped');
  siemCounter('wachtpost_siem_errors_total', 'SIEM connection, send and file errors', 'errors');
  siemCounter('wachtpost_siem_truncated_total', 'Syslog datagrams cut to 8 KiB', 'truncated');
  const gauge = (name: string, help: string, read: () => number): void => collectedGauge(registry, name, help, [], 'sum', (metric) => metric.set(read()));
  gauge('wachtpost_history_backlog_events', 'Events published but not yet written to the history', () => readings.history()?.backlog ?? 0);
  gauge('wachtpost_history_size_bytes', 'Bytes of the history database and its write-ahead log', () => readings.history()?.sizeBytes ?? 0);
  gauge('wachtpost_ready', '1 while DNS is served (every worker bound, not draining)', () => (readings.health.ready() ? 1 : 0));
  collectedGauge(registry, 'wachtpost_degraded', '1 while a part of the node is impaired (history not written, Redis away, every upstream failing)', ['component'], 'max', (metric) => {
    for (const [component, degraded] of readings.health.components()) metric.set({ component }, degraded ? 1 : 0);
  });
  new Gauge({
    name: 'wachtpost_feed_clients',
    help: 'Connected feed clients',
    registers: [registry],
    collect() {
      this.set(feed.clients);
    },
  });
  return registry;
}
