import type { Logger } from 'pino';
import { AggregatorRegistry, Gauge, Registry } from 'prom-client';
import { collectedCounter } from '../metrics/collected-counter.js';
import type { Config } from '../config/schema.js';
import { EventHub } from '../events/event-hub.js';
import { Pseudonymiser } from '../events/pseudonymiser.js';
import { feedCounters } from '../feed/feed-routes.js';
import { History } from '../history/history.js';
import { Authenticator, OriginPolicy } from '../http/auth.js';
import { startHttpServer, type RunningHttp } from '../http/http-server.js';
import { ScaleOut, type SharedPolicy } from '../scaleout/scale-out.js';
import { SiemExport } from '../siem/siem-export.js';
import type { SinkCounters } from '../siem/sink.js';
import { instanceName } from './instance.js';

/** Newest stream events loaded into the hub at start, so feed clients can resume here. */
const STREAM_PREFILL = 10_000;

/** One process's metrics as prom-client JSON, the form the cluster primary sums. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;
/** Metrics of other processes (cluster workers), gathered at scrape time. */
export type RemoteMetrics = () => Promise<MetricsJson[]>;

export interface ControlPlaneOptions {
  /** DNS is being served (every worker bound, not draining). */
  ready(): boolean;
  /** With Redis: another instance shared a policy; validate it and swap it in (or refuse and log). */
  applySharedPolicy(shared: SharedPolicy): void;
  remoteMetrics: RemoteMetrics;
}

/**
 * The SOC side of a node, in the cluster primary: the event hub, the history, authentication and the HTTP server with feed, API,
 * metrics and dashboard. The resolver only ever publishes into the hub.
 */
export class ControlPlane {
  private constructor(
    readonly hub: EventHub,
    readonly history: History | null,
    readonly http: RunningHttp,
    private readonly scaleOut: ScaleOut | null,
    private readonly siem: SiemExport | null,
  ) {}

  static async start(config: Config, log: Logger, options: ControlPlaneOptions): Promise<ControlPlane> {
    const history = config.history.path === '' ? null : History.open(config.history, log);
    let scaleOut: ScaleOut | null = null;
    let siem: SiemExport | null = null;
    try {
      const highestStored = history?.maxId() ?? 0;
      let hub: EventHub | null = null;
      const highestKnown = (): number => Math.max(highestStored, (hub?.ring.nextId ?? 1) - 1);
      scaleOut = config.redis.url === '' ? null : await ScaleOut.connect(config, instanceName(config), log, highestKnown);
      hub = new EventHub({
        capacity: config.events.buffer,
        firstId: highestStored + 1,
        residualWindowMs: config.events.residual_window_s * 1000,
        pseudonymiser: pseudonymiserFor(config, history),
        forward: scaleOut?.publisher ?? null,
      });
      // Alone, the history follows the hub; in a deployment, the stream's consumer group feeds it.
      if (scaleOut === null) history?.attach(hub);
      else scaleOut.follow(hub, Math.min(config.events.buffer, STREAM_PREFILL), history, options.applySharedPolicy);
      siem = SiemExport.start(config.siem, hub, log, instanceName(config));
      const registry = nodeRegistry(hub, history, siem);
      const auth = new Authenticator(config.api);
      if (auth.tokenCount === 0) {
        log.warn('no API token configured: feed, API and dashboard refuse everyone; add api.tokens (wachtpost token NAME ROLE) or set WACHTPOST_ADMIN_TOKEN');
      }
      const http = await startHttpServer({
        config,
        log,
        health: { ready: options.ready, degraded: () => degradedReasons(history, scaleOut) },
        hub,
        history,
        auth,
        origins: new OriginPolicy(config.api.allowed_origins),
        metrics: {
          contentType: registry.contentType,
          text: async () => AggregatorRegistry.aggregate([await registry.getMetricsAsJSON(), ...(await options.remoteMetrics())]).metrics(),
        },
      });
      return new ControlPlane(hub, history, http, scaleOut, siem);
    } catch (error) {
      await siem?.close();
      await scaleOut?.close();
      await history?.close();
      throw error;
    }
  }

  /** With Redis: shares a policy this instance accepted (file change, SIGHUP) with the others. */
  sharePolicy(config: Config): void {
    void this.scaleOut?.sharePolicy(config);
  }

  /** Starts a new SIEM JSON-lines file after logrotate moved the old one (SIGHUP). */
  reopenLogs(): void {
    this.siem?.reopen();
  }

  /** Stops serving HTTP, hands buffered events to Redis, then writes every pending event to the history and the SIEM. */
  async close(): Promise<void> {
    await this.http.close();
    await this.scaleOut?.close();
    await Promise.all([this.history?.close(), this.siem?.close()]);
  }
}

function pseudonymiserFor(config: Config, history: History | null): Pseudonymiser | null {
  if (!config.privacy.pseudonymise) return null;
  const key = process.env[config.privacy.key_env];
  if (key === undefined || key === '') throw new Error(`privacy.pseudonymise is on but ${config.privacy.key_env} is not set`);
  return new Pseudonymiser(key, (pseudonym, address) => history?.rememberPseudonym(pseudonym, address));
}

function degradedReasons(history: History | null, scaleOut: ScaleOut | null): string[] {
  return [history?.degraded() ?? null, scaleOut?.degraded() ?? null].filter((reason): reason is string => reason !== null);
}

/** Hub, history and feed counters, collected at scrape time. */
function nodeRegistry(hub: EventHub, history: History | null, siem: SiemExport | null): Registry {
  const registry = new Registry();
  const counter = (name: string, help: string, read: () => number): void => collectedCounter(registry, name, help, [], (metric) => metric.inc(read()));
  const feed = feedCounters(hub);
  counter('wachtpost_events_published_total', 'Events taken into the hub (after worker batching)', () => hub.counters.published);
  counter('wachtpost_events_dropped_in_workers_total', 'Events workers dropped because the hub did not keep up', () => hub.counters.droppedInWorkers);
  counter('wachtpost_events_stored_total', 'Events written to the history', () => history?.counters.written ?? 0);
  counter('wachtpost_history_batches_total', 'History write transactions', () => history?.counters.batches ?? 0);
  counter('wachtpost_history_write_failures_total', 'History writes the database refused (each retried)', () => history?.counters.failures ?? 0);
  counter('wachtpost_events_store_lost_total', 'Events the history writer missed because it fell behind the ring', () => history?.counters.lost ?? 0);
  counter('wachtpost_feed_events_sent_total', 'Events sent to feed clients', () => feed.sent);
  counter('wachtpost_feed_gaps_total', 'Gap notices sent to feed clients that fell behind', () => feed.gaps);
  counter('wachtpost_feed_events_missed_total', 'Events feed clients lost because they fell a ring behind', () => feed.missed);
  counter('wachtpost_feed_refused_total', 'Feed connections refused because the client limit was reached', () => feed.refused);
  counter('wachtpost_feed_slow_closes_total', 'Feed clients closed for staying too far behind', () => feed.slowCloses);
  const siemCounter = (name: string, help: string, field: keyof SinkCounters): void =>
    collectedCounter(registry, name, help, ['sink'], (metric) => {
      for (const [sink, counters] of Object.entries(siem?.counters ?? {})) metric.inc({ sink }, counters[field]);
    });
  siemCounter('wachtpost_siem_exported_total', 'Events handed to a SIEM sink (syslog socket or JSON-lines file)', 'exported');
  siemCounter('wachtpost_siem_dropped_total', 'Events a SIEM sink never sent: queue full, send failed, or overwritten in the ring first', 'dropped');
  siemCounter('wachtpost_siem_errors_total', 'SIEM connection, send and file errors', 'errors');
  siemCounter('wachtpost_siem_truncated_total', 'Syslog datagrams cut to 8 KiB', 'truncated');
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
