import { Stage } from '../pipeline/stage.js';
import type { Query } from '../pipeline/query.js';
import { AnswerKind, type Answer } from '../wire/answer.js';
import { buildUpstreamQuery, setQueryId } from '../wire/upstream-query.js';
import { UpstreamFailure, UpstreamOverloaded } from './errors.js';
import { ExchangeCounters, TRUNCATED, type Expected } from './exchange.js';
import { failureCause, type ExchangeObserver, type ExchangeProtocol } from './exchange-observer.js';
import { randomQueryId } from './random-id.js';
import { exchangeTcp } from './tcp-exchange.js';
import { exchangeUdp } from './udp-exchange.js';
import { tryOrder, type UpstreamServer } from './upstream-server.js';

export interface UpstreamSettings {
  servers: readonly UpstreamServer[];
  /** Overall deadline: past it the client gets SERVFAIL (or a stale answer). */
  timeoutMs: number;
  /** How long one attempt waits before the next server (or the same one again) is tried. */
  attemptTimeoutMs: number;
  udpSize: number;
  /** Upstream exchanges this worker allows at once; more fail fast instead of piling up sockets. */
  maxInFlight: number;
  /** Told of every attempt: per-server metrics, upstream health, dnstap. */
  observer?: ExchangeObserver;
}

/**
 * The last link: forwards a question to the upstream servers. Each attempt has a fresh ID
 * and source port; a server that times out or answers SERVFAIL/REFUSED hands over to the
 * next; a truncated UDP answer is fetched again over TCP from the same server.
 */
export class UpstreamStage extends Stage {
  readonly name = 'upstream';
  readonly counters = new ExchangeCounters();
  private inFlight = 0;
  private readonly order: UpstreamServer[] = [];

  constructor(private readonly settings: UpstreamSettings) {
    super();
    if (settings.servers.length === 0) throw new Error('at least one upstream server is needed');
  }

  get servers(): readonly UpstreamServer[] {
    return this.settings.servers;
  }

  async resolve(query: Query): Promise<Answer> {
    if (this.inFlight >= this.settings.maxInFlight) {
      throw new UpstreamOverloaded(`more than ${this.settings.maxInFlight} upstream queries in flight`);
    }
    this.inFlight++;
    try {
      return await this.forward(query);
    } finally {
      this.inFlight--;
    }
  }

  private async forward(query: Query): Promise<Answer> {
    const { timeoutMs, attemptTimeoutMs, udpSize } = this.settings;
    const started = Date.now();
    const deadline = started + timeoutMs;
    const servers = [...tryOrder(this.settings.servers, started, this.order)];
    const maxAttempts = Math.max(3, servers.length * 2);
    const wire = buildUpstreamQuery(query, 0, udpSize);
    const expected: Expected = { id: 0, question: query.question, questionLength: query.questionLength, udpSize };
    let lastRefusal: Answer | null = null;
    let lastError: unknown = null;

    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const now = Date.now();
      const startedPrecise = performance.now();
      const remaining = deadline - now;
      if (remaining <= 0) break;
      const server = servers[attempt % servers.length]!;
      expected.id = randomQueryId();
      setQueryId(wire, expected.id);
      const observer = this.settings.observer;
      try {
        observer?.asked(server, 'udp', wire);
        let result = await exchangeUdp(server, wire, expected, Math.min(attemptTimeoutMs, remaining), this.counters);
        let protocol: ExchangeProtocol = 'udp';
        if (result === TRUNCATED) {
          protocol = 'tcp';
          observer?.asked(server, protocol, wire);
          result = await exchangeTcp(server, wire, expected, Math.max(1, deadline - Date.now()), this.counters);
        }
        server.recordSuccess(Date.now() - now);
        observer?.answered(server, protocol, result, (performance.now() - startedPrecise) / 1000);
        // SERVFAIL or REFUSED from one server is worth asking another about, once each.
        if (result.kind === AnswerKind.UNCACHEABLE && attempt + 1 < servers.length) {
          lastRefusal = result;
          continue;
        }
        return result;
      } catch (error) {
        server.recordFailure(Date.now());
        if (observer !== undefined) {
          const { cause, detail } = failureCause(error);
          observer.failed(server, cause, detail);
        }
        lastError = error;
      }
    }
    if (lastRefusal !== null) return lastRefusal;
    const reason = lastError instanceof Error ? lastError.message : 'deadline passed';
    throw new UpstreamFailure(`no upstream answered within ${timeoutMs} ms (${reason})`);
  }
}
