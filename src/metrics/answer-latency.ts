import type { Registry } from 'prom-client';
import { TRANSPORTS, type Query } from '../pipeline/query.js';
import { BucketCounts, CollectedHistogram } from './bucket-counts.js';

/** Seconds; cache hits land in the first few, forwarded answers in the middle, failures at the top. */
const BOUNDS = new Float64Array([0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);
const SOURCES = ['cache', 'upstream'] as const;

/**
 * Answer latency as the client sees it, from the query read off the socket to its reply
 * handed back, by transport and by whether the cache answered. On the hot path: one clock
 * read and one bucket increment per reply, labels built at scrape time.
 */
export class AnswerLatency {
  private readonly series = TRANSPORTS.flatMap(() => SOURCES.map(() => new BucketCounts(BOUNDS)));

  replied(query: Query): void {
    const transport = query.channel === null ? 0 : TRANSPORTS.indexOf(query.channel.protocol);
    this.series[transport * 2 + (query.cacheAge >= 0 ? 0 : 1)]!.observe((performance.now() - query.receivedAt) / 1000);
  }

  register(registry: Registry): void {
    const series = this.series;
    new CollectedHistogram(
      registry,
      'wachtpost_dns_answer_latency_seconds',
      'Time from reading a query to handing its reply to the socket, by transport and source (cache: served from the cache; upstream: everything else, forwarded or failed)',
      ['transport', 'source'],
      BOUNDS,
      function* () {
        for (const [t, transport] of TRANSPORTS.entries()) {
          for (const [s, source] of SOURCES.entries()) yield [{ transport, source }, series[t * 2 + s]!] as const;
        }
      },
    );
  }
}
