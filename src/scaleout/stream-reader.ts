import type { Logger } from 'pino';
import type { DetectionEvent } from '../events/detection-event.js';
import { pause, type RedisLink } from './redis-link.js';
import { eventOf, type StreamEntry } from './stream-entries.js';
import type { StreamKeys } from './stream-keys.js';

const BLOCK_MS = 1000;
const COUNT = 1000;
const RETRY_MS = 500;

/** Takes events that already carry their cluster-wide id. */
export interface NumberedEventSink {
  accept(event: DetectionEvent): void;
}

/**
 * Follows the shared stream and hands every instance's events to the local hub, so this
 * instance's feed shows the whole deployment. At start it first loads the newest `prefill`
 * entries, so a feed client that reconnects here can resume. Runs on its own connection,
 * since XREAD BLOCK holds it.
 */
export class StreamReader {
  private lastEntry = '$';
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly link: RedisLink,
    private readonly keys: StreamKeys,
    private readonly sink: NumberedEventSink,
    prefill: number,
    private readonly log: Logger,
  ) {
    this.loop = this.run(prefill);
  }

  private async run(prefill: number): Promise<void> {
    while (!this.stopped && this.lastEntry === '$') {
      if (this.link.up || (await this.link.ready(BLOCK_MS))) {
        try {
          await this.loadNewest(prefill);
          break;
        } catch (error) {
          this.log.debug({ err: (error as Error).message }, 'reading the newest stream entries failed');
        }
      }
      await pause(RETRY_MS);
    }
    while (!this.stopped) {
      try {
        const reply = (await this.link.client.xread('COUNT', COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', this.keys.stream, this.lastEntry)) as
          | [string, StreamEntry[]][]
          | null;
        if (reply !== null) for (const [, entries] of reply) this.deliver(entries);
      } catch (error) {
        if (this.stopped) return;
        this.log.debug({ err: (error as Error).message }, 'reading the event stream failed; retrying');
        await pause(RETRY_MS);
      }
    }
  }

  private async loadNewest(count: number): Promise<void> {
    const newest = (await this.link.client.xrevrange(this.keys.stream, '+', '-', 'COUNT', Math.max(count, 1))) as StreamEntry[];
    this.deliver(newest.reverse());
    // An empty stream: read from its beginning, so nothing appended meanwhile is missed.
    if (this.lastEntry === '$') this.lastEntry = '0-0';
  }

  private deliver(entries: StreamEntry[]): void {
    for (const entry of entries) {
      this.lastEntry = entry[0];
      const event = eventOf(entry);
      if (event !== null) this.sink.accept(event);
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.link.close();
    await this.loop;
  }
}
