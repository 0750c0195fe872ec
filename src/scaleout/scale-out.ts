import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { EventHub } from '../events/event-hub.js';
import { HistoryConsumer, type HistoryWriter } from './history-consumer.js';
import { PolicySync, type SharedPolicy } from './policy-sync.js';
import { SessionSync, type SharedSession } from './session-sync.js';
import { RedisLink } from './redis-link.js';
import { streamKeys } from './stream-keys.js';
import { StreamPublisher } from './stream-publisher.js';
import { StreamReader } from './stream-reader.js';

export type { SharedPolicy } from './policy-sync.js';
export type { SharedSession } from './session-sync.js';

/** How long start-up waits for Redis before going on without it (DNS must come up regardless). */
const CONNECT_WAIT_MS = 2000;
/** On shutdown, how long buffered events may take to reach Redis, and the readers to stop. */
const HANDOVER_MS = 3000;
const READERS_STOP_MS = 2000;

/**
 * Several instances as one deployment, over Redis: this instance's events go into a capped
 * stream (numbered there, across instances), the local hub follows the whole stream so the
 * feed shows every instance, the history is written once per event by the `history`
 * consumer group, and policy changes are shared. Redis being away never reaches DNS: events
 * wait in a bounded buffer and the node reports itself degraded until Redis is back.
 */
export class ScaleOut {
  private reader: StreamReader | null = null;
  private consumer: HistoryConsumer | null = null;
  private sync: PolicySync | null = null;
  private readonly links: RedisLink[];

  private constructor(
    readonly publisher: StreamPublisher,
    private readonly commands: RedisLink,
    private readonly settings: Config['redis'],
    private readonly instance: string,
    private readonly log: Logger,
  ) {
    this.links = [commands];
  }

  /**
   * Connects (waiting briefly) and makes the publisher the hub will forward to. Ids handed
   * out stay above `highestKnown()`, the highest this instance has stored or seen.
   */
  static async connect(config: Config, instance: string, log: Logger, highestKnown: () => number): Promise<ScaleOut> {
    const scaleLog = log.child({ component: 'redis' });
    const commands = new RedisLink(config.redis.url, 'commands', scaleLog);
    const publisher = new StreamPublisher(commands, streamKeys(config.redis), config.redis.buffer, highestKnown, scaleLog);
    if (!(await commands.ready(CONNECT_WAIT_MS))) scaleLog.warn('redis not reachable at start; DNS is served, events are buffered until it is');
    return new ScaleOut(publisher, commands, config.redis, instance, scaleLog);
  }

  /**
   * Starts following the stream into `hub` (prefilled with its newest `prefill` events),
   * consuming it into `history` when this instance keeps one, and policy sharing.
   */
  follow(hub: EventHub, prefill: number, history: HistoryWriter | null, applyPolicy: (shared: SharedPolicy) => void): void {
    const keys = streamKeys(this.settings);
    this.reader = new StreamReader(this.link('feed'), keys, hub, prefill, this.log);
    if (history !== null) this.consumer = new HistoryConsumer(this.link('history'), keys, this.instance, history, this.log);
    this.sync = new PolicySync(this.commands, this.link('policy'), keys, this.instance, applyPolicy, this.log);
  }

  /**
   * Shares the VPN sessions this instance hears of by RADIUS accounting, and hands the
   * other instances' (and, on every connect, all stored ones: `whole`) to `apply`.
   */
  followSessions(apply: (sessions: SharedSession[], whole: boolean) => void): SessionSync {
    return new SessionSync(this.commands, this.link('sessions'), streamKeys(this.settings), this.instance, apply, this.log);
  }

  private link(name: string): RedisLink {
    const made = new RedisLink(this.settings.url, name, this.log);
    this.links.push(made);
    return made;
  }

  /** Shares a policy accepted here (file change or SIGHUP) with every other instance. */
  sharePolicy(config: Config): Promise<boolean> {
    return this.sync?.share(config) ?? Promise.resolve(false);
  }

  /** Why the deployment-wide view is impaired right now (Redis away, history behind the stream); empty when not. */
  degraded(): string[] {
    if (!this.links.every((link) => link.up)) return [`redis unreachable: ${this.publisher.pending} events waiting, ${this.publisher.counters.dropped} dropped`];
    const lag = this.consumer?.degraded() ?? null;
    return lag === null ? [] : [lag];
  }

  /**
   * Hands over what is buffered (if Redis is there), then closes every connection. Each step
   * has a deadline, so an unreachable or silent Redis cannot hold up a shutdown; what could
   * not be handed over is logged.
   */
  async close(): Promise<void> {
    if (!(await within(this.publisher.close(), HANDOVER_MS))) this.log.error({ waited_ms: HANDOVER_MS }, 'handing events to Redis did not finish in time');
    if (this.publisher.pending > 0) this.log.error({ events: this.publisher.pending }, 'events not handed to Redis before shutdown are lost');
    for (const link of this.links) link.close();
    if (!(await within(Promise.all([this.reader?.close(), this.consumer?.close()]), READERS_STOP_MS))) {
      this.log.error({ waited_ms: READERS_STOP_MS }, 'the event stream readers did not stop in time');
    }
  }
}

/** Whether `work` settled (either way) within `ms`. */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
