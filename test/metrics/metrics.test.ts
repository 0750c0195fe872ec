import { describe, expect, it } from 'vitest';
import { nodeRegistry, type NodeReadings } from '../../src/metrics/node-metrics.js';
import { ResolverMetrics, type ResolverReadings } from '../../src/metrics/resolver-metrics.js';
import type { Registry } from 'prom-client';

/** `name{labels} value` samples of a registry's text output. */
async function samples(registry: Registry): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const line of (await registry.metrics()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    found.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return found;
}

describe('resolver metrics', () => {
  it('read the resolver anew at every scrape, through the readings interface only', async () => {
    const byRcode = new Float64Array(24);
    const cache = { hits: 3, misses: 1, stale: 5, staleAtOnce: 3, staleAfterClientTimeout: 1, entries: 4, answerBytes: 4096, evictedForEntries: 0, evictedForBytes: 6 };
    const readings: ResolverReadings = {
      replies: { byRcode, dropped: 2 },
      get cache() {
        return { ...cache };
      },
      udpLosses: { oversized: 1, replies: 0 },
      upstream: { lateAnswers: 2, failing: 1 },
      rateLimited: { queries: 7, errorReplies: 8 },
      tcp: { open: 3, refusedNotAdmitted: 4, refusedPerClient: 1, refusedFull: 0, closedIdle: 2, closedForRoom: 0, closedSlowMessage: 1, readsPausedUnsent: 5 },
    };
    const metrics = new ResolverMetrics();
    metrics.attach(readings, { recorded: 5, dropped: 0, folded: 1 });
    byRcode[0] = 7;
    byRcode[3] = 2;
    let found = await samples(metrics.registry);
    expect(found.get('wachtpost_dns_replies_total{rcode="NOERROR"}')).toBe(7);
    expect(found.get('wachtpost_dns_replies_total{rcode="NXDOMAIN"}')).toBe(2);
    expect(found.has('wachtpost_dns_replies_total{rcode="SERVFAIL"}')).toBe(false);
    expect(found.get('wachtpost_cache_hit_ratio')).toBe(0.75);
    expect(found.get('wachtpost_dns_dropped_total')).toBe(2);
    cache.hits = 9;
    cache.entries = 10;
    found = await samples(metrics.registry);
    expect(found.get('wachtpost_cache_hits_total')).toBe(9);
    expect(found.get('wachtpost_cache_entries')).toBe(10);
    expect(found.get('wachtpost_events_folded_total')).toBe(1);
    expect(found.get('wachtpost_tcp_connections')).toBe(3);
    expect(found.get('wachtpost_cache_evictions_total{limit="bytes"}')).toBe(6);
    expect(found.get('wachtpost_cache_stale_total{wait="none"}')).toBe(3);
    expect(found.get('wachtpost_cache_stale_total{wait="upstream_failure"}')).toBe(1);
    expect(found.get('wachtpost_upstream_failing')).toBe(1);
    expect(found.get('wachtpost_upstream_late_answers_total')).toBe(2);
    expect(found.get('wachtpost_rate_limited_total{what="queries"}')).toBe(7);
    expect(found.get('wachtpost_rate_limited_total{what="error_replies"}')).toBe(8);
    expect(found.get('wachtpost_tcp_refused_total{reason="not_allowed"}')).toBe(4);
    expect(found.get('wachtpost_tcp_closed_total{reason="slow_message"}')).toBe(1);
    expect(found.get('wachtpost_tcp_reads_paused_total')).toBe(5);
  });
});

describe('node metrics', () => {
  it('count the hub, history, feed and each SIEM sink, and leave history at 0 when it is off', async () => {
    const hub = { published: 10, droppedInWorkers: 1 };
    let history: ReturnType<NodeReadings['history']> = { written: 8, batches: 2, failures: 0, lost: 0 };
    const feed = { clients: 2, sent: 20, gaps: 0, missed: 0, refused: 0, slowCloses: 0 };
    const registry = nodeRegistry({
      hub,
      history: () => history,
      feed,
      siem: () => [['syslog', { exported: 6, dropped: 1, errors: 0, truncated: 0 }]],
    });
    let found = await samples(registry);
    expect(found.get('wachtpost_events_published_total')).toBe(10);
    expect(found.get('wachtpost_events_stored_total')).toBe(8);
    expect(found.get('wachtpost_feed_clients')).toBe(2);
    expect(found.get('wachtpost_siem_exported_total{sink="syslog"}')).toBe(6);
    hub.published = 12;
    history = null;
    found = await samples(registry);
    expect(found.get('wachtpost_events_published_total')).toBe(12);
    expect(found.get('wachtpost_events_stored_total')).toBe(0);
  });
});
