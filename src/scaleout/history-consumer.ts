import type { Logger } from 'pino';
import type { DetectionEvent } from '../events/detection-event.js';
import { pause, type RedisLink } from './redis-link.js';
import { eventOf, type StreamEntry } from './stream-entries.js';
import { HISTORY_GROUP, type StreamKeys } from './stream-keys.js';

const BLOCK_MS = 1000;
const COUNT = 500;
const RETRY_MS = 500;
/** Entries a stopped history instance left unacknowledged this long are taken over. */
const CLAIM_IDLE_MS = 60_000;
const CLAIM_EVERY_MS = 30_000;

/** Where consumed events are written; throws when the write failed (the entries stay pending). */
export interface HistoryWriter {
  writeEvents(events: readonly DetectionEvent[]): void;
}

/**
 * Writes the shared stream into this instance's history as one consumer of the `history`
 * group, so each event is stored once however many instances keep history. An entry is
 * acknowledged only after its write committed; entries of an instance that died are claimed
 * after CLAIM_IDLE_MS, and this instance's own unacknowledged ones are written at start.
 */
export class HistoryConsumer {
  private stopped = false;
  private readonly loop: Promise<void>;
  private lastClaim = 0;

  constructor(
    private readonly link: RedisLink,
    private readonly keys: StreamKeys,
    private readonly consumer: string,
    private readonly writer: HistoryWriter,
    private readonly log: Logger,
  ) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let ownPendingDone = false;
    while (!this.stopped) {
      try {
        if (!this.link.up && !(await this.link.ready(BLOCK_MS))) continue;
        await this.ensureGroup();
        if (!ownPendingDone) {
          // '0' replays what this consumer read before a restart but never acknowledged.
          while (await this.consume('0', 0)) {}
          ownPendingDone = true;
        }
        if (Date.now() - this.lastClaim > CLAIM_EVERY_MS) await this.claimAbandoned();
        await this.consume('>', BLOCK_MS);
      } catch (error) {
        if (this.stopped) return;
        this.log.debug({ err: (error as Error).message }, 'history consumer: retrying');
        await pause(RETRY_MS);
      }
    }
  }

  private groupReady = false;

  private async ensureGroup(): Promise<void> {
    if (this.groupReady) return;
    try {
      // From the stream's start: history that existed before the group was made is kept too.
      await this.link.client.xgroup('CREATE', this.keys.stream, HISTORY_GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    }
    this.groupReady = true;
  }

  /** Reads, writes and acknowledges one batch; true when it found entries. */
  private async consume(from: '0' | '>', blockMs: number): Promise<boolean> {
    const args: (string | number)[] = ['GROUP', HISTORY_GROUP, this.consumer, 'COUNT', COUNT];
    if (blockMs > 0) args.push('BLOCK', blockMs);
    const reply = (await this.link.client.call('XREADGROUP', ...args, 'STREAMS', this.keys.stream, from)) as [string, StreamEntry[]][] | null;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) return false;
    this.writeAndAck(entries);
    return true;
  }

  private async claimAbandoned(): Promise<void> {
    this.lastClaim = Date.now();
    let cursor = '0-0';
    do {
      const [next, entries] = (await this.link.client.xautoclaim(this.keys.stream, HISTORY_GROUP, this.consumer, CLAIM_IDLE_MS, cursor, 'COUNT', COUNT)) as [
        string,
        StreamEntry[],
      ];
      if (entries.length > 0) this.writeAndAck(entries.filter((entry) => entry !== null));
      cursor = next;
    } while (cursor !== '0-0' && !this.stopped);
  }

  private writeAndAck(entries: StreamEntry[]): void {
    const events = entries.map(eventOf).filter((event): event is DetectionEvent => event !== null);
    this.writer.writeEvents(events);
    void this.link.client.xack(this.keys.stream, HISTORY_GROUP, ...entries.map((entry) => entry[0])).catch(() => {
      // Unacknowledged entries are written again after a restart; ids make that harmless.
    });
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.link.close();
    await this.loop;
  }
}
