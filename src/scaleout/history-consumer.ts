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
/** How often the group's backlog is measured (a few cheap commands between reads). */
const LAG_CHECK_MS = 2000;
/** The history counts as lagging once its oldest unacknowledged entry is this old. */
export const LAG_LIMIT_MS = 10_000;
/** Without a completed read for this long (Redis reachable), the consumer counts as stalled. */
const STALL_MS = 10_000;

/** Where consumed events are written; throws when the write failed (the entries stay pending). */
export interface HistoryWriter {
  writeEvents(events: readonly DetectionEvent[]): void;
}

/** The group's backlog: entries in the stream it has not acknowledged, and how old the oldest is. */
export interface HistoryLag {
  /** Undelivered plus delivered-but-unacknowledged entries; null when Redis cannot count them. */
  readonly entries: number | null;
  readonly oldestAgeMs: number;
}

/**
 * Writes the shared stream into this instance's history as one consumer of the `history`
 * group, so each event is stored once however many instances keep history. An entry is
 * acknowledged only after its write committed; entries of an instance that died are claimed
 * after CLAIM_IDLE_MS, and this instance's own unacknowledged ones are written at start.
 *
 * The group lives in Redis: a Redis that restarted empty has none, and reads fail with
 * NOGROUP. The group is therefore made again after every reconnect and every NOGROUP, from
 * the stream's start, so whatever the stream holds by then is written.
 */
export class HistoryConsumer {
  private stopped = false;
  private readonly loop: Promise<void>;
  private lastClaim = 0;
  private groupReady = false;
  private ownPendingDone = false;
  private lastLagCheck = 0;
  private lag: HistoryLag = { entries: 0, oldestAgeMs: 0 };
  private lastRead: number;
  private lastError: string | null = null;

  constructor(
    private readonly link: RedisLink,
    private readonly keys: StreamKeys,
    private readonly consumer: string,
    private readonly writer: HistoryWriter,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.lastRead = now();
    link.client.on('ready', () => {
      // The server may be a new, empty one: check the group (and own pending entries) again.
      this.groupReady = false;
      this.ownPendingDone = false;
    });
    this.loop = this.run();
  }

  /** Why the history is behind the stream right now, or null. Meant for /health. */
  degraded(): string | null {
    if (!this.link.up) return null; // the link's own outage is reported by ScaleOut
    const idleMs = this.now() - this.lastRead;
    if (idleMs > STALL_MS) return `history consumer stalled: no read from the stream for ${Math.round(idleMs / 1000)} s (${this.lastError ?? 'no error'})`;
    if (this.lag.oldestAgeMs > LAG_LIMIT_MS) {
      const entries = this.lag.entries === null ? 'events' : `${this.lag.entries} events`;
      return `history lags: ${entries} in the stream not yet stored, the oldest ${Math.round(this.lag.oldestAgeMs / 1000)} s old`;
    }
    return null;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.link.up && !(await this.link.ready(BLOCK_MS))) continue;
        await this.ensureGroup();
        // Measured even while writes fail: that is when the backlog grows.
        if (this.now() - this.lastLagCheck >= LAG_CHECK_MS) await this.measureLag();
        if (!this.ownPendingDone) {
          // '0' replays what this consumer read before a restart but never acknowledged.
          while (await this.consume('0', 0)) {}
          this.ownPendingDone = true;
        }
        if (this.now() - this.lastClaim > CLAIM_EVERY_MS) await this.claimAbandoned();
        await this.consume('>', BLOCK_MS);
      } catch (error) {
        if (this.stopped) return;
        const message = (error as Error).message;
        this.lastError = message;
        // Entries read but not written (the history refused them) are this consumer's pending
        // ones: replay those first instead of leaving them to the claim a minute later.
        this.ownPendingDone = false;
        if (message.startsWith('NOGROUP')) {
          // Redis lost the group (restarted empty, or it was deleted): make it again at once.
          if (this.groupReady) this.log.warn('history consumer group missing in Redis; creating it again');
          this.groupReady = false;
          continue;
        }
        this.log.debug({ err: message }, 'history consumer: retrying');
        await pause(RETRY_MS);
      }
    }
  }

  private async ensureGroup(): Promise<void> {
    if (this.groupReady) return;
    try {
      // From the stream's start: history that existed before the group was made is kept too,
      // and ids already stored are skipped by the writer.
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
    this.lastRead = this.now();
    this.lastError = null;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) return false;
    this.writeAndAck(entries);
    return true;
  }

  private async claimAbandoned(): Promise<void> {
    this.lastClaim = this.now();
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

  /**
   * The group's backlog, from Redis: entries not yet delivered (after last-delivered-id)
   * plus those delivered and not acknowledged (the pending list), and the age of the oldest
   * of them by its entry id (Redis's clock, read with TIME, so hosts' clocks do not matter).
   */
  private async measureLag(): Promise<void> {
    this.lastLagCheck = this.now();
    const client = this.link.client;
    const groups = (await client.xinfo('GROUPS', this.keys.stream)) as unknown[][];
    const group = groups.map(fieldsOf).find((fields) => fields.get('name') === HISTORY_GROUP);
    if (group === undefined) throw new Error('NOGROUP the history group is gone');
    const pending = Number(group.get('pending') ?? 0);
    const lag = group.get('lag');
    const oldest: string[] = [];
    if (pending > 0) {
      const [, smallest] = (await client.xpending(this.keys.stream, HISTORY_GROUP)) as [number, string | null];
      if (smallest !== null) oldest.push(smallest);
    }
    const undelivered = (await client.xrange(this.keys.stream, `(${String(group.get('last-delivered-id'))}`, '+', 'COUNT', 1)) as StreamEntry[];
    if (undelivered.length > 0) oldest.push(undelivered[0]![0]);
    if (oldest.length === 0) {
      this.lag = { entries: 0, oldestAgeMs: 0 };
      return;
    }
    const [seconds, micros] = await client.time();
    const redisNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const oldestMs = Math.min(...oldest.map((id) => Number(id.slice(0, id.indexOf('-')))));
    // `lag` is null when Redis cannot tell (entries deleted in the middle); count what we know.
    const entries = lag === null || lag === undefined ? null : pending + Number(lag);
    this.lag = { entries, oldestAgeMs: Math.max(0, redisNow - oldestMs) };
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.link.close();
    await this.loop;
  }
}

/** XINFO's flat [field, value, field, value, …] reply as a map. */
function fieldsOf(flat: unknown[]): Map<string, unknown> {
  const fields = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), flat[i + 1]);
  return fields;
}
