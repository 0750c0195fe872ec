import { Stage } from '../pipeline/stage.js';
import type { Query } from '../pipeline/query.js';
import type { Answer } from '../wire/answer.js';
import { UpstreamOverloaded } from './errors.js';
import { ExchangeCounters } from './exchange.js';
import { ForwardCounters, Forwarding, type ForwardSettings } from './forwarding.js';
import { tryOrder, type UpstreamServer } from './upstream-server.js';

/** Told the duration of every answered exchange, in seconds (the metrics histogram). */
export interface LatencySink {
  observe(seconds: number): void;
}

export interface UpstreamSettings extends ForwardSettings {
  servers: readonly UpstreamServer[];
  /** Upstream exchanges this worker allows at once; more fail fast instead of piling up sockets. */
  maxInFlight: number;
  latency?: LatencySink;
}

/** The last link: forwards a question to the upstream servers (see Forwarding). */
export class UpstreamStage extends Stage {
  readonly name = 'upstream';
  readonly counters = new ExchangeCounters();
  readonly forwardCounters = new ForwardCounters();
  private inFlight = 0;
  private readonly order: UpstreamServer[] = [];
  private readonly observe: (seconds: number) => void;

  constructor(private readonly settings: UpstreamSettings) {
    super();
    if (settings.servers.length === 0) throw new Error('at least one upstream server is needed');
    const latency = settings.latency;
    this.observe = latency === undefined ? () => {} : (seconds) => latency.observe(seconds);
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
      const servers = [...tryOrder(this.settings.servers, Date.now(), this.order)];
      return await new Forwarding(query, servers, this.settings, this.counters, this.forwardCounters, this.observe).answer;
    } finally {
      this.inFlight--;
    }
  }
}
