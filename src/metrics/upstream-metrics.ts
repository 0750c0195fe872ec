import type { Registry } from 'prom-client';
import { BucketCounts, CollectedHistogram } from './bucket-counts.js';
import { collectedCounter, collectedGauge } from './collected-counter.js';

const BOUNDS = new Float64Array([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2]);

/** What these metrics know of an upstream server. */
export interface ServerRef {
  readonly label: string;
}

class ServerCounts {
  answers = 0;
  timeouts = 0;
  readonly failures = new Map<string, number>();
  readonly latency = new BucketCounts(BOUNDS);
}

/**
 * Per-upstream answers, failures by cause, timeouts and latency, labelled `server` with
 * the configured address. An exchange observer on the miss path; read at scrape time.
 */
export class UpstreamMetrics {
  private readonly servers = new Map<ServerRef, ServerCounts>();

  asked(): void {}

  answered(server: ServerRef, _protocol: string, _answer: unknown, seconds: number): void {
    const counts = this.of(server);
    counts.answers++;
    counts.latency.observe(seconds);
  }

  failed(server: ServerRef, cause: string, _detail: string): void {
    const counts = this.of(server);
    if (cause === 'timeout') counts.timeouts++;
    else counts.failures.set(cause, (counts.failures.get(cause) ?? 0) + 1);
  }

  /** `failing`: each server's label and whether it is failing now (upstream health). */
  register(registry: Registry, known: readonly ServerRef[], failing: () => ReadonlyArray<{ readonly label: string; readonly failing: boolean }>): void {
    for (const server of known) this.of(server);
    const servers = this.servers;
    collectedCounter(registry, 'wachtpost_upstream_answers_total', 'Answers accepted from each upstream server', ['server'], (metric) => {
      for (const [server, counts] of servers) metric.inc({ server: server.label }, counts.answers);
    });
    collectedCounter(registry, 'wachtpost_upstream_timeouts_total', 'Attempts at an upstream server that got no acceptable answer in time', ['server'], (metric) => {
      for (const [server, counts] of servers) metric.inc({ server: server.label }, counts.timeouts);
    });
    collectedCounter(
      registry,
      'wachtpost_upstream_failures_total',
      'Attempts at an upstream server that failed other than by timeout, by cause (refused, unreachable, reset, other)',
      ['server', 'cause'],
      (metric) => {
        for (const [server, counts] of servers) for (const [cause, count] of counts.failures) metric.inc({ server: server.label, cause }, count);
      },
    );
    new CollectedHistogram(
      registry,
      'wachtpost_upstream_latency_seconds',
      'Time from sending a question to an upstream server to its accepted answer',
      ['server'],
      BOUNDS,
      function* () {
        for (const [server, counts] of servers) yield [{ server: server.label }, counts.latency] as const;
      },
    );
    collectedGauge(registry, 'wachtpost_upstream_up', 'Whether an upstream server answers (0 after two failed attempts in a row, 1 again after an answer); the lowest across workers', ['server'], 'min', (metric) => {
      for (const { label, failing: down } of failing()) metric.set({ server: label }, down ? 0 : 1);
    });
  }

  private of(server: ServerRef): ServerCounts {
    let counts = this.servers.get(server);
    if (counts === undefined) {
      counts = new ServerCounts();
      this.servers.set(server, counts);
    }
    return counts;
  }
}
