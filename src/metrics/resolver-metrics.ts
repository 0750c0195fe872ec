import { Gauge, Registry, type Counter } from 'prom-client';
import { rcodeName, typeName } from '../events/dns-names.js';
import { ACTIONS } from '../pipeline/action.js';
import { AnswerLatency } from './answer-latency.js';
import { collectedCounter, collectedGauge } from './collected-counter.js';
import { QueryCounters } from './query-counters.js';
import { UpstreamMetrics, type ServerRef } from './upstream-metrics.js';

/**
 * What the resolver metrics read at scrape time. The resolver provides it; the metrics see
 * nothing else of it. Read afresh on every scrape.
 */
export interface ResolverReadings {
  /** Replies sent, indexed by rcode, and packets dropped without one. */
  readonly replies: { readonly byRcode: ArrayLike<number>; readonly dropped: number };
  readonly cache: {
    readonly hits: number;
    readonly misses: number;
    /** Stale answers served; some at once (the upstream was failing), some after the client timeout. */
    readonly stale: number;
    readonly staleAtOnce: number;
    readonly staleAfterClientTimeout: number;
    /** Misses answered from the cache once another worker's fetch of the same question ended. */
    readonly awaited: number;
    readonly entries: number;
    readonly answerBytes: number;
    /** Whether every worker reads one shared cache (so entries and bytes are the node's, not the worker's). */
    readonly shared: boolean;
    /** Entries evicted for the entry limit and for the byte limit. */
    readonly evictedForEntries: number;
    readonly evictedForBytes: number;
    /** Times the cache was emptied because a worker died holding its lock. */
    readonly resets: number;
  };
  /** Datagrams dropped unread and replies the socket refused (batched UDP). */
  readonly udpLosses: { readonly oversized: number; readonly replies: number };
  /** The configured upstream servers, and whether each is failing now. */
  readonly upstreamServers: readonly ServerRef[];
  readonly upstreamStates: ReadonlyArray<{ readonly label: string; readonly failing: boolean }>;
  /** The dnstap writer's counts, or null when dnstap is off. */
  readonly dnstap: DnstapReadings | null;
  /** The release of the catalogue tagging queries now. */
  readonly catalogueVersion: string;
  /** Queries turned down for their client's rate, and error replies not sent for it. */
  readonly rateLimited: { readonly queries: number; readonly errorReplies: number };
  /** Forwarding: answers taken from an earlier attempt, and whether the upstream is failing now (1) or not (0). */
  readonly upstream: { readonly lateAnswers: number; readonly failing: number };
  /** DNS over TCP, over every listener: connections open, refused at accept, closed, reads paused. */
  readonly tcp: {
    readonly open: number;
    readonly refusedNotAdmitted: number;
    readonly refusedPerClient: number;
    readonly refusedFull: number;
    readonly closedIdle: number;
    readonly closedForRoom: number;
    readonly closedSlowMessage: number;
    readonly readsPausedUnsent: number;
  };
  /** DoT handshakes and DoH responses, over every encrypted listener. */
  readonly encrypted: EncryptedReadings;
}

/** What the encrypted listeners report. */
export interface EncryptedReadings {
  readonly handshakes: number;
  readonly resumed: number;
  readonly handshakeFailures: number;
  /** Connections closed for an SNI label that is no device id. */
  readonly invalidDevice: number;
  /** Connections whose address and device are both not admitted. */
  readonly notAdmitted: number;
  /** DoH responses by HTTP status. */
  readonly dohStatuses: ReadonlyMap<number, number>;
  /** DoH connections refused at accept (the overall or per-client cap). */
  readonly dohRefused: number;
}

/** What the dnstap output reports. */
export interface DnstapReadings {
  /** Messages handed to the receiver's socket. */
  readonly sent: number;
  /** Messages dropped because the buffer was full (receiver slow or away). */
  readonly dropped: number;
  readonly connected: boolean;
  /** Connections made (the first and every reconnect). */
  readonly connects: number;
}

/** Event counts, read by the collectors at scrape time. */
export interface EventCounts {
  readonly recorded: number;
  readonly dropped: number;
  readonly folded: number;
}

/**
 * The DNS side's metrics in one registry per process (in a cluster, each worker's is
 * summed by the primary): queries by type and action, replies by rcode, answer latency,
 * cache hits, per-upstream answers, failures and latency, TCP connections, dnstap, events
 * recorded and dropped before reaching the hub.
 */
export class ResolverMetrics {
  readonly registry = new Registry();
  readonly queries = new QueryCounters();
  /** A reply observer of the responder. */
  readonly latency = new AnswerLatency();
  /** An exchange observer of the upstream stage. */
  readonly upstream = new UpstreamMetrics();

  /** Starts reporting the resolver's readings and the given event counts. */
  attach(readings: ResolverReadings, events: EventCounts): void {
    const { queries, registry } = this;
    this.latency.register(registry);
    this.upstream.register(registry, readings.upstreamServers, () => readings.upstreamStates);
    const counter = (name: string, help: string, labelNames: string[], collect: (metric: Counter) => void): void =>
      collectedCounter(registry, name, help, labelNames, collect);
    counter('wachtpost_dns_queries_total', 'Answered queries by record type', ['qtype'], (metric) => {
      queries.byType.forEach((count, type) => count > 0 && metric.inc({ qtype: typeName(type) }, count));
    });
    counter('wachtpost_dns_actions_total', 'Answered queries by policy action', ['action'], (metric) => {
      ACTIONS.forEach((action, i) => metric.inc({ action }, queries.byAction[i]!));
    });
    counter('wachtpost_dns_replies_total', 'Replies sent by rcode', ['rcode'], (metric) => {
      const { byRcode } = readings.replies;
      for (let rcode = 0; rcode < byRcode.length; rcode++) if (byRcode[rcode]! > 0) metric.inc({ rcode: rcodeName(rcode) }, byRcode[rcode]!);
    });
    counter('wachtpost_dns_dropped_total', 'Packets dropped without a reply (too short, or responses)', [], (metric) => metric.inc(readings.replies.dropped));
    counter('wachtpost_udp_oversized_total', 'UDP datagrams longer than any DNS query, dropped unread (batched UDP)', [], (metric) =>
      metric.inc(readings.udpLosses.oversized),
    );
    counter('wachtpost_udp_replies_lost_total', 'UDP replies the socket refused or could not queue (batched UDP)', [], (metric) =>
      metric.inc(readings.udpLosses.replies),
    );
    counter('wachtpost_tcp_refused_total', 'TCP connections refused at accept, by reason', ['reason'], (metric) => {
      const tcp = readings.tcp;
      metric.inc({ reason: 'not_allowed' }, tcp.refusedNotAdmitted);
      metric.inc({ reason: 'per_client' }, tcp.refusedPerClient);
      metric.inc({ reason: 'full' }, tcp.refusedFull);
    });
    counter('wachtpost_tcp_closed_total', 'TCP connections the resolver closed, by reason', ['reason'], (metric) => {
      const tcp = readings.tcp;
      metric.inc({ reason: 'idle' }, tcp.closedIdle);
      metric.inc({ reason: 'make_room' }, tcp.closedForRoom);
      metric.inc({ reason: 'slow_message' }, tcp.closedSlowMessage);
    });
    counter('wachtpost_tls_handshakes_total', 'TLS handshakes on the encrypted listeners, by result', ['result'], (metric) => {
      const tls = readings.encrypted;
      metric.inc({ result: 'full' }, tls.handshakes - tls.resumed);
      metric.inc({ result: 'resumed' }, tls.resumed);
      metric.inc({ result: 'failed' }, tls.handshakeFailures);
    });
    counter('wachtpost_encrypted_refused_total', 'Encrypted clients turned away, by reason', ['reason'], (metric) => {
      const tls = readings.encrypted;
      metric.inc({ reason: 'invalid_device' }, tls.invalidDevice);
      metric.inc({ reason: 'not_admitted' }, tls.notAdmitted);
      metric.inc({ reason: 'doh_connection_cap' }, tls.dohRefused);
    });
    counter('wachtpost_doh_responses_total', 'DoH responses by HTTP status', ['status'], (metric) => {
      readings.encrypted.dohStatuses.forEach((count, status) => metric.inc({ status: String(status) }, count));
    });
    counter('wachtpost_tcp_reads_paused_total', 'Times a TCP connection stopped being read because its client left too many reply bytes unread', [], (metric) =>
      metric.inc(readings.tcp.readsPausedUnsent),
    );
    new Gauge({
      name: 'wachtpost_tcp_connections',
      help: 'Open DNS-over-TCP connections',
      registers: [registry],
      collect() {
        this.set(readings.tcp.open);
      },
    });
    counter('wachtpost_cache_hits_total', 'Answers served from the cache', [], (metric) => metric.inc(readings.cache.hits));
    counter('wachtpost_cache_evictions_total', 'Cached answers evicted before expiry to stay within a limit', ['limit'], (metric) => {
      metric.inc({ limit: 'entries' }, readings.cache.evictedForEntries);
      metric.inc({ limit: 'bytes' }, readings.cache.evictedForBytes);
    });
    counter('wachtpost_cache_resets_total', 'Times the cache was emptied because a worker died while changing it', [], (metric) => metric.inc(readings.cache.resets));
    counter('wachtpost_cache_misses_total', 'Questions the cache could not answer', [], (metric) => metric.inc(readings.cache.misses));
    counter('wachtpost_cache_awaited_total', "Misses answered from another worker's fetch of the same question instead of a fetch of their own", [], (metric) =>
      metric.inc(readings.cache.awaited),
    );
    counter('wachtpost_cache_stale_total', 'Stale answers served (RFC 8767), by what the client waited for', ['wait'], (metric) => {
      const { stale, staleAtOnce, staleAfterClientTimeout } = readings.cache;
      metric.inc({ wait: 'upstream_failure' }, stale - staleAtOnce - staleAfterClientTimeout);
      metric.inc({ wait: 'client_timeout' }, staleAfterClientTimeout);
      metric.inc({ wait: 'none' }, staleAtOnce);
    });
    counter('wachtpost_rate_limited_total', "Turned down for the client's rate: queries (REFUSED or dropped), error replies (not sent)", ['what'], (metric) => {
      metric.inc({ what: 'queries' }, readings.rateLimited.queries);
      metric.inc({ what: 'error_replies' }, readings.rateLimited.errorReplies);
    });
    counter('wachtpost_upstream_late_answers_total', 'Upstream answers taken from an attempt after a later attempt had been sent', [], (metric) =>
      metric.inc(readings.upstream.lateAnswers),
    );
    new Gauge({
      name: 'wachtpost_upstream_failing',
      help: 'Workers that found no upstream answering within the failure memory (stale answers are served at once)',
      registers: [registry],
      collect() {
        this.set(readings.upstream.failing);
      },
    });
    counter('wachtpost_events_recorded_total', 'Queries the resolver recorded as events, folded repeats included', [], (metric) => metric.inc(events.recorded));
    counter('wachtpost_events_folded_total', "Queries counted into an earlier event's count rather than published on their own", [], (metric) =>
      metric.inc(events.folded),
    );
    counter('wachtpost_events_dropped_total', 'Events dropped before reaching the hub (its queue was full)', [], (metric) => metric.inc(events.dropped));
    counter('wachtpost_tcp_cap_reached_total', 'TCP connections turned away because dns.tcp.max_connections were open', [], (metric) =>
      metric.inc(readings.tcp.refusedFull),
    );
    if (readings.dnstap !== null) {
      const dnstap = (): DnstapReadings => readings.dnstap ?? { sent: 0, dropped: 0, connects: 0, connected: false };
      counter('wachtpost_dnstap_sent_total', 'dnstap messages handed to the receiver', [], (metric) => metric.inc(dnstap().sent));
      counter('wachtpost_dnstap_dropped_total', 'dnstap messages dropped because the buffer was full (receiver slow or away)', [], (metric) =>
        metric.inc(dnstap().dropped),
      );
      counter('wachtpost_dnstap_connects_total', 'Connections made to the dnstap receiver, the first and every reconnect', [], (metric) =>
        metric.inc(dnstap().connects),
      );
      collectedGauge(registry, 'wachtpost_dnstap_connected', 'Processes connected to the dnstap receiver', [], 'sum', (metric) =>
        metric.set(dnstap().connected ? 1 : 0),
      );
    }
    new Gauge({
      name: 'wachtpost_cache_hit_ratio',
      help: 'Share of questions answered from the cache since start',
      aggregator: 'average',
      registers: [registry],
      collect() {
        const { hits, misses } = readings.cache;
        this.set(hits + misses === 0 ? 0 : hits / (hits + misses));
      },
    });
    new Gauge({
      name: 'wachtpost_catalogue_info',
      help: 'Always 1; the label names the catalogue release in use',
      labelNames: ['version'],
      // Every worker reports 1: the node's value is 1 too, not the number of workers.
      aggregator: 'max',
      registers: [registry],
      collect() {
        this.reset();
        this.set({ version: readings.catalogueVersion }, 1);
      },
    });
    // A shared cache: every worker reports the same figure, which is the node's.
    const cacheAggregator = readings.cache.shared ? 'max' : 'sum';
    new Gauge({
      name: 'wachtpost_cache_entries',
      help: 'Answers held in the cache',
      aggregator: cacheAggregator,
      registers: [registry],
      collect() {
        this.set(readings.cache.entries);
      },
    });
    new Gauge({
      name: 'wachtpost_cache_answer_bytes',
      help: 'Bytes of slab pages holding cached answers',
      aggregator: cacheAggregator,
      registers: [registry],
      collect() {
        this.set(readings.cache.answerBytes);
      },
    });
  }
}
