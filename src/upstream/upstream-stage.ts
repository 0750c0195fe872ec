import type { UpstreamFailures } from '../pipeline/upstream-failures.js';
import { Stage } from '../pipeline/stage.js';
import type { Query } from '../pipeline/query.js';
import type { Answer } from '../wire/answer.js';
import { UpstreamFailure, UpstreamOverloaded } from './errors.js';
import { ExchangeCounters } from './exchange-counters.js';
import type { ExchangeObserver } from './exchange-observer.js';
import { ForwardCounters, Forwarding, type ForwardSettings } from './forwarding.js';
import { tryOrder, type UpstreamServer } from './upstream-server.js';

export interface UpstreamSettings extends ForwardSettings {
  servers: readonly UpstreamServer[];
  /** Upstream exchanges this worker allows at once; more fail fast instead of piling up sockets. */
  maxInFlight: number;
  /** After every server failed to answer a question, remember it this long (see failedRecently). */
  failureMemoryMs: number;
  /** Told of every attempt: per-server metrics, upstream health, dnstap. */
  observer?: ExchangeObserver;
}

/**
 * The last link: forwards a question to the upstream servers (see Forwarding). It also
 * remembers that a question found no server answering, for `failureMemoryMs` or until the
 * next answer, so the cache can serve stale answers at once instead of making every client
 * wait out the deadline again (RFC 8767 §5); the first failure after a good spell is told
 * to `onFailureRemembered`, which a worker shares with the others.
 */
export class UpstreamStage extends Stage implements UpstreamFailures {
  readonly name = 'upstream';
  readonly counters = new ExchangeCounters();
  readonly forwardCounters = new ForwardCounters();
  /** Told the memory's length when the upstream starts failing; set by the worker. */
  onFailureRemembered: ((forMs: number) => void) | null = null;
  private inFlight = 0;
  private failedUntil = 0;
  private readonly order: UpstreamServer[] = [];

  constructor(private readonly settings: UpstreamSettings) {
    super();
    if (settings.servers.length === 0) throw new Error('at least one upstream server is needed');
  }

  get servers(): readonly UpstreamServer[] {
    return this.settings.servers;
  }

  failedRecently(now: number): boolean {
    return now < this.failedUntil;
  }

  /** Another worker found the upstream failing: remember it here too, without telling anyone. */
  rememberFailure(forMs: number): void {
    this.failedUntil = Math.max(this.failedUntil, Date.now() + forMs);
  }

  async resolve(query: Query): Promise<Answer> {
    if (this.inFlight >= this.settings.maxInFlight) {
      throw new UpstreamOverloaded(`more than ${this.settings.maxInFlight} upstream queries in flight`);
    }
    this.inFlight++;
    try {
      const servers = [...tryOrder(this.settings.servers, Date.now(), this.order)];
      const answer = await new Forwarding(query, servers, this.settings, this.counters, this.forwardCounters, this.settings.observer ?? null).answer;
      this.failedUntil = 0;
      return answer;
    } catch (error) {
      if (error instanceof UpstreamFailure) this.remember();
      throw error;
    } finally {
      this.inFlight--;
    }
  }

  /** Closes the servers' UDP sockets and encrypted connections. */
  override async close(): Promise<void> {
    for (const server of this.settings.servers) server.close();
  }

  private remember(): void {
    const now = Date.now();
    const fresh = !this.failedRecently(now);
    this.failedUntil = now + this.settings.failureMemoryMs;
    if (fresh) this.onFailureRemembered?.(this.settings.failureMemoryMs);
  }
}
