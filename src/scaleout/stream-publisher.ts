import type { Logger } from 'pino';
import type { DetectionEvent } from '../events/detection-event.js';
import type { EventSink } from '../events/event-sink.js';
import type { RedisLink } from './redis-link.js';
import type { StreamKeys } from './stream-keys.js';

/** Events per append script call, and how often the queue is flushed. */
const BATCH_MAX = 500;
const FLUSH_INTERVAL_MS = 50;

/**
 * Numbers a batch from the shared counter and appends it, in one atomic script: ids are
 * consecutive in stream order across every instance, so any instance's feed can resume
 * from any id. The stream is capped (MAXLEN ~, trimmed by whole nodes: cheap).
 */
const APPEND = `
local n = #ARGV - 1
local last = redis.call('INCRBY', KEYS[2], n)
local first = last - n + 1
for i = 1, n do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'id', first + i - 1, 'e', ARGV[i + 1])
end
return first
`;

/** Raises the counter to at least ARGV[1] (a restarted Redis must not reuse stored ids). */
const RAISE = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
`;

export class PublisherCounters {
  appended = 0;
  /** Events dropped because Redis stayed away until the buffer was full (oldest first). */
  dropped = 0;
}

/**
 * This instance's events on their way into the shared stream. Publishing only queues, so
 * DNS never waits for Redis; while Redis is unreachable the queue holds up to `buffer`
 * events and then drops the oldest, counting them. Appending is at-least-once: a batch
 * whose reply was lost is sent again.
 */
export class StreamPublisher implements EventSink {
  readonly counters = new PublisherCounters();
  private queue: DetectionEvent[] = [];
  /** The flush under way, which a second caller waits for instead of starting another. */
  private flushing: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout;

  /** Set on every (re)connect: a Redis that restarted empty must not hand out ids again. */
  private mustRaise = true;

  constructor(
    private readonly link: RedisLink,
    private readonly keys: StreamKeys,
    private readonly buffer: number,
    /** The highest event id this instance knows of (its history, its hub). */
    private readonly highestKnown: () => number,
    private readonly log: Logger,
  ) {
    link.client.defineCommand('wachtpostAppend', { numberOfKeys: 2, lua: APPEND });
    link.client.defineCommand('wachtpostRaise', { numberOfKeys: 1, lua: RAISE });
    link.client.on('ready', () => {
      this.mustRaise = true;
    });
    this.timer = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS).unref();
  }

  get dropped(): number {
    return this.counters.dropped;
  }

  get pending(): number {
    return this.queue.length;
  }

  publish(event: DetectionEvent): void {
    if (this.queue.length >= this.buffer) {
      // Drop a tenth at once: shifting one by one would make a long outage quadratic.
      const drop = Math.ceil(this.buffer / 10);
      this.queue.splice(0, drop);
      this.counters.dropped += drop;
    }
    this.queue.push(event);
  }

  /** Appends everything queued, batch by batch; stops at the first failure (retried next tick). */
  flush(): Promise<void> {
    if (!this.link.up) return Promise.resolve();
    this.flushing ??= this.appendQueued().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async appendQueued(): Promise<void> {
    try {
      if (this.mustRaise) {
        await (this.link.client as unknown as ScriptClient).wachtpostRaise(this.keys.lastId, String(this.highestKnown()));
        this.mustRaise = false;
      }
      while (this.queue.length > 0 && this.link.up) {
        const batch = this.queue.slice(0, BATCH_MAX);
        const args = batch.map((event) => JSON.stringify({ ...event, id: 0 }));
        await (this.link.client as unknown as ScriptClient).wachtpostAppend(this.keys.stream, this.keys.lastId, String(this.keys.maxLen), ...args);
        // Publishing may have dropped the oldest while we waited: remove exactly what was sent.
        const sent = this.queue.indexOf(batch[batch.length - 1]!);
        this.queue.splice(0, sent + 1);
        this.counters.appended += batch.length;
      }
    } catch (error) {
      this.log.debug({ err: (error as Error).message }, 'append to the event stream failed; will retry');
    }
  }

  /**
   * Stops the timer and hands over what is queued: the first flush may be one already under
   * way (started before the last events came), the second sends the rest. What is still
   * `pending` afterwards could not be handed over.
   */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    await this.flush();
  }
}

interface ScriptClient {
  wachtpostAppend(stream: string, counter: string, maxLen: string, ...events: string[]): Promise<number>;
  wachtpostRaise(counter: string, id: string): Promise<number>;
}
