import { Registry, AggregatorRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AnswerLatency } from '../../src/metrics/answer-latency.js';
import { BucketCounts, CollectedHistogram } from '../../src/metrics/bucket-counts.js';
import { DetectionCounts, MAX_APP_SERIES } from '../../src/metrics/detection-counts.js';
import { nodeRegistry, type NodeReadings } from '../../src/metrics/node-metrics.js';
import { buildInfo, perProcess, processMetrics } from '../../src/metrics/process-metrics.js';
import { ResolverMetrics, type ResolverReadings } from '../../src/metrics/resolver-metrics.js';
import { Query } from '../../src/pipeline/query.js';
import { ACTION_INDEX } from '../../src/pipeline/action.js';
import { promtoolCheck, samplesOf } from '../support/prometheus.js';

const samples = async (registry: Registry): Promise<Map<string, number>> => samplesOf(await registry.metrics());

const readings = (overrides: Partial<ResolverReadings> = {}): ResolverReadings => ({
  replies: { byRcode: new Float64Array(24), dropped: 0 },
  cache: { hits: 0, misses: 0, stale: 0, staleAtOnce: 0, staleAfterClientTimeout: 0, awaited: 0, entries: 0, answerBytes: 0, shared: false, evictedForEntries: 0, evictedForBytes: 0, resets: 0 },
  udpLosses: { oversized: 0, replies: 0 },
  tcp: { open: 0, refusedNotAdmitted: 0, refusedPerClient: 0, refusedFull: 0, closedIdle: 0, closedForRoom: 0, closedSlowMessage: 0, readsPausedUnsent: 0 },
  rateLimited: { queries: 0, errorReplies: 0 },
  upstream: { lateAnswers: 0, failing: 0 },
  upstreamServers: [],
  upstreamStates: [],
  dnstap: null,
  catalogueVersion: '2026.12.03',
  encrypted: { handshakes: 0, resumed: 0, handshakeFailures: 0, invalidDevice: 0, notAdmitted: 0, dohStatuses: new Map(), dohRefused: 0 },
  ...overrides,
});

describe('resolver metrics', () => {
  it('read the resolver anew at every scrape, through the readings interface only', async () => {
    const byRcode = new Float64Array(24);
    const cache = { hits: 3, misses: 1, stale: 5, staleAtOnce: 3, staleAfterClientTimeout: 1, awaited: 2, entries: 4, answerBytes: 4096, evictedForEntries: 0, evictedForBytes: 6 };
    const tcp = { open: 2, refusedNotAdmitted: 4, refusedPerClient: 1, refusedFull: 1, closedIdle: 2, closedForRoom: 0, closedSlowMessage: 1, readsPausedUnsent: 5 };
    const metrics = new ResolverMetrics();
    const read = readings({ replies: { byRcode, dropped: 2 }, udpLosses: { oversized: 1, replies: 0 }, tcp, upstream: { lateAnswers: 2, failing: 1 }, rateLimited: { queries: 7, errorReplies: 8 } });
    let catalogueVersion = '2026.12.03';
    Object.defineProperty(read, 'cache', { get: () => ({ ...cache }) });
    Object.defineProperty(read, 'catalogueVersion', { get: () => catalogueVersion });
    metrics.attach(read, { recorded: 5, dropped: 0, folded: 1 });
    byRcode[0] = 7;
    byRcode[3] = 2;
    let found = await samples(metrics.registry);
    expect(found.get('wachtpost_dns_replies_total{rcode="NOERROR"}')).toBe(7);
    expect(found.get('wachtpost_dns_replies_total{rcode="NXDOMAIN"}')).toBe(2);
    expect(found.has('wachtpost_dns_replies_total{rcode="SERVFAIL"}')).toBe(false);
    expect(found.get('wachtpost_cache_hit_ratio')).toBe(0.75);
    expect(found.get('wachtpost_dns_dropped_total')).toBe(2);
    expect(found.get('wachtpost_tcp_connections')).toBe(2);
    expect(found.get('wachtpost_tcp_cap_reached_total')).toBe(1);
    expect(found.has('wachtpost_dnstap_sent_total')).toBe(false);
    expect(found.get('wachtpost_catalogue_info{version="2026.12.03"}')).toBe(1);
    cache.hits = 9;
    cache.entries = 10;
    tcp.refusedFull = 4;
    catalogueVersion = '2026.12.04';
    found = await samples(metrics.registry);
    expect(found.get('wachtpost_cache_hits_total')).toBe(9);
    expect(found.get('wachtpost_cache_entries')).toBe(10);
    // After a reload only the release in use is reported.
    expect(found.get('wachtpost_catalogue_info{version="2026.12.04"}')).toBe(1);
    expect(found.has('wachtpost_catalogue_info{version="2026.12.03"}')).toBe(false);
    expect(found.get('wachtpost_events_folded_total')).toBe(1);
    expect(found.get('wachtpost_cache_evictions_total{limit="bytes"}')).toBe(6);
    expect(found.get('wachtpost_cache_stale_total{wait="none"}')).toBe(3);
    expect(found.get('wachtpost_cache_awaited_total')).toBe(2);
    expect(found.get('wachtpost_cache_stale_total{wait="upstream_failure"}')).toBe(1);
    expect(found.get('wachtpost_upstream_failing')).toBe(1);
    expect(found.get('wachtpost_upstream_late_answers_total')).toBe(2);
    expect(found.get('wachtpost_rate_limited_total{what="queries"}')).toBe(7);
    expect(found.get('wachtpost_rate_limited_total{what="error_replies"}')).toBe(8);
    expect(found.get('wachtpost_tcp_refused_total{reason="not_allowed"}')).toBe(4);
    expect(found.get('wachtpost_tcp_closed_total{reason="slow_message"}')).toBe(1);
    expect(found.get('wachtpost_tcp_reads_paused_total')).toBe(5);
    expect(found.get('wachtpost_tcp_cap_reached_total')).toBe(4);
  });

  it('count each upstream server by name: answers, timeouts, failures by cause, latency and whether it is up', async () => {
    const first = { label: '192.0.2.53:53' };
    const second = { label: '[2001:db8::53]:53' };
    const states = [
      { label: first.label, failing: false },
      { label: second.label, failing: true },
    ];
    const metrics = new ResolverMetrics();
    metrics.attach(readings({ upstreamServers: [first, second], upstreamStates: states }), { recorded: 0, dropped: 0, folded: 0 });
    let found = await samples(metrics.registry);
    expect(found.get('wachtpost_upstream_answers_total{server="[2001:db8::53]:53"}')).toBe(0);
    metrics.upstream.answered(first, 'udp', null, 0.004);
    metrics.upstream.answered(first, 'tcp', null, 0.3);
    metrics.upstream.failed(second, 'timeout', 'no answer');
    metrics.upstream.failed(second, 'refused', 'connection refused');
    metrics.upstream.failed(second, 'refused', 'connection refused');
    found = await samples(metrics.registry);
    expect(found.get('wachtpost_upstream_answers_total{server="192.0.2.53:53"}')).toBe(2);
    expect(found.get('wachtpost_upstream_timeouts_total{server="[2001:db8::53]:53"}')).toBe(1);
    expect(found.get('wachtpost_upstream_failures_total{server="[2001:db8::53]:53",cause="refused"}')).toBe(2);
    expect(found.get('wachtpost_upstream_latency_seconds_bucket{le="0.005",server="192.0.2.53:53"}')).toBe(1);
    expect(found.get('wachtpost_upstream_latency_seconds_bucket{le="0.5",server="192.0.2.53:53"}')).toBe(2);
    expect(found.get('wachtpost_upstream_latency_seconds_count{server="192.0.2.53:53"}')).toBe(2);
    expect(found.get('wachtpost_upstream_up{server="192.0.2.53:53"}')).toBe(1);
    expect(found.get('wachtpost_upstream_up{server="[2001:db8::53]:53"}')).toBe(0);
    expect(await promtoolCheck(await metrics.registry.metrics())).toBe('');
  });

  it('expose dnstap counts only when dnstap is on, read at every scrape', async () => {
    const dnstap = { sent: 5, dropped: 1, connects: 1, connected: true };
    const metrics = new ResolverMetrics();
    metrics.attach(readings({ dnstap }), { recorded: 0, dropped: 0, folded: 0 });
    dnstap.sent = 9;
    const found = await samples(metrics.registry);
    expect(found.get('wachtpost_dnstap_sent_total')).toBe(9);
    expect(found.get('wachtpost_dnstap_dropped_total')).toBe(1);
    expect(found.get('wachtpost_dnstap_connected')).toBe(1);
  });
});

describe('collected histograms', () => {
  it('expose typed-array buckets as a cumulative histogram that promtool accepts and the cluster sums', async () => {
    const bounds = new Float64Array([0.001, 0.01, 0.1]);
    const counts = new BucketCounts(bounds);
    for (const value of [0.0005, 0.001, 0.002, 0.05, 3]) counts.observe(value);
    expect([...counts.counts]).toEqual([2, 1, 1, 1]);
    const registry = new Registry();
    new CollectedHistogram(registry, 'wachtpost_test_seconds', 'A test histogram', ['kind'], bounds, () => [[{ kind: 'a' }, counts] as const]);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE wachtpost_test_seconds histogram');
    const found = samplesOf(text);
    expect(found.get('wachtpost_test_seconds_bucket{le="0.001",kind="a"}')).toBe(2);
    expect(found.get('wachtpost_test_seconds_bucket{le="0.1",kind="a"}')).toBe(4);
    expect(found.get('wachtpost_test_seconds_bucket{le="+Inf",kind="a"}')).toBe(5);
    expect(found.get('wachtpost_test_seconds_count{kind="a"}')).toBe(5);
    expect(found.get('wachtpost_test_seconds_sum{kind="a"}')).toBeCloseTo(3.0535, 6);
    expect(await promtoolCheck(text)).toBe('');
    const json = await registry.getMetricsAsJSON();
    const summed = samplesOf(await AggregatorRegistry.aggregate([json, json]).metrics());
    expect(summed.get('wachtpost_test_seconds_bucket{le="+Inf",kind="a"}')).toBe(10);
  });

  it('time each reply by transport and by whether the cache answered', async () => {
    const latency = new AnswerLatency();
    const registry = new Registry();
    latency.register(registry);
    const query = new Query();
    query.channel = { protocol: 'tcp', send: () => {} };
    query.receivedAt = performance.now() - 3;
    query.cacheAge = 0;
    latency.replied(query);
    query.channel = { protocol: 'udp', send: () => {} };
    query.cacheAge = -1;
    latency.replied(query);
    const found = await samples(registry);
    expect(found.get('wachtpost_dns_answer_latency_seconds_count{transport="tcp",source="cache"}')).toBe(1);
    expect(found.get('wachtpost_dns_answer_latency_seconds_count{transport="udp",source="upstream"}')).toBe(1);
    expect(found.get('wachtpost_dns_answer_latency_seconds_count{transport="udp",source="cache"}')).toBe(0);
    // Three milliseconds ago: above the 2.5 ms bound, within 5 ms.
    expect(found.get('wachtpost_dns_answer_latency_seconds_bucket{le="0.0025",transport="tcp",source="cache"}')).toBe(0);
    expect(found.get('wachtpost_dns_answer_latency_seconds_bucket{le="0.005",transport="tcp",source="cache"}')).toBe(1);
  });
});

describe('detection counts', () => {
  const app = (id: string, country = 'CN'): { id: string; owner_country: string } => ({ id, owner_country: country });

  it('count apps by owner country and action, and keep the label set bounded', async () => {
    const counts = new DetectionCounts();
    const registry = new Registry();
    counts.register(registry);
    const tiktok = app('tiktok');
    counts.count(tiktok, ACTION_INDEX.block);
    counts.count(tiktok, ACTION_INDEX.block);
    counts.count(app('wechat'), ACTION_INDEX.monitor);
    for (let i = 0; i < MAX_APP_SERIES + 10; i++) counts.count(app(`app${i}`, 'US'), ACTION_INDEX.allow);
    // A reload's new catalogue entry for the same app counts on in its series, under the owner's new country.
    counts.count(app('wechat', 'SG'), ACTION_INDEX.monitor);
    const found = await samples(registry);
    expect(found.get('wachtpost_detections_total{app="wechat",owner_country="SG",action="monitor"}')).toBe(2);
    expect(found.get('wachtpost_detections_total{app="tiktok",owner_country="CN",action="block"}')).toBe(2);
    const series = [...found.keys()].filter((key) => key.startsWith('wachtpost_detections_total'));
    expect(series.length).toBeLessThanOrEqual(MAX_APP_SERIES + 1);
    expect(found.get('wachtpost_detections_total{app="other",owner_country="other",action="allow"}')).toBeGreaterThanOrEqual(10);
  });
});

describe('process metrics', () => {
  it('label each process, keep every process series when the primary combines them, and tell the version', async () => {
    const primary = new Registry();
    processMetrics(primary, 'primary');
    buildInfo(primary, '1.2.3');
    const worker = new Registry();
    processMetrics(worker, 'worker-1');
    const combined = await AggregatorRegistry.aggregate(perProcess([await primary.getMetricsAsJSON(), await worker.getMetricsAsJSON()])).metrics();
    const found = samplesOf(combined);
    for (const process of ['primary', 'worker-1']) {
      expect(found.get(`process_resident_memory_bytes{process="${process}"}`)).toBeGreaterThan(0);
      expect(found.get(`process_start_time_seconds{process="${process}"}`)).toBeGreaterThan(0);
      expect(found.has(`nodejs_eventloop_lag_p99_seconds{process="${process}"}`)).toBe(true);
    }
    expect(found.get(`wachtpost_build_info{version="1.2.3",node="${process.versions.node}"}`)).toBe(1);
  });
});

describe('node metrics', () => {
  it('count the hub, history, feed, authentication and each SIEM sink, report health, and leave history at 0 when it is off', async () => {
    const hub = { published: 10, droppedInWorkers: 1 };
    let history: ReturnType<NodeReadings['history']> = { written: 8, batches: 2, failures: 0, lost: 0, backlog: 2, sizeBytes: 8192 };
    const feed = { clients: 2, sent: 20, gaps: 0, missed: 0, refused: 0, slowCloses: 0 };
    let ready = false;
    let historyDegraded = true;
    const registry = nodeRegistry({
      hub,
      history: () => history,
      feed,
      siem: () => [['syslog', { exported: 6, dropped: 1, errors: 0, truncated: 0 }]],
      health: { ready: () => ready, components: () => [['history', historyDegraded], ['upstream', false]] },
      auth: { failures: 25, throttled: 5 },
    });
    let found = await samples(registry);
    expect(found.get('wachtpost_events_published_total')).toBe(10);
    expect(found.get('wachtpost_events_stored_total')).toBe(8);
    expect(found.get('wachtpost_history_backlog_events')).toBe(2);
    expect(found.get('wachtpost_history_size_bytes')).toBe(8192);
    expect(found.get('wachtpost_feed_clients')).toBe(2);
    expect(found.get('wachtpost_siem_exported_total{sink="syslog"}')).toBe(6);
    expect(found.get('wachtpost_ready')).toBe(0);
    expect(found.get('wachtpost_degraded{component="history"}')).toBe(1);
    expect(found.get('wachtpost_degraded{component="upstream"}')).toBe(0);
    expect(found.get('wachtpost_auth_failures_total')).toBe(25);
    expect(found.get('wachtpost_auth_throttled_total')).toBe(5);
    hub.published = 12;
    history = null;
    ready = true;
    historyDegraded = false;
    found = await samples(registry);
    expect(found.get('wachtpost_events_published_total')).toBe(12);
    expect(found.get('wachtpost_events_stored_total')).toBe(0);
    expect(found.get('wachtpost_ready')).toBe(1);
    expect(found.get('wachtpost_degraded{component="history"}')).toBe(0);
  });
});
