import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import type { EventHub, EventSubscriber } from '../events/event-hub.js';
import type { EventRing } from '../events/event-ring.js';
import type { FeedCounters } from './feed-counters.js';
import { FeedError } from './feed-error.js';
import { FeedFilter } from './feed-filter.js';
import {
  CloseCode,
  errorMessage,
  eventMessage,
  filterMessage,
  gapMessage,
  heartbeatMessage,
  helloMessage,
  parseClientMessage,
  type ClientMessage,
} from './feed-protocol.js';
import type { FeedStart } from './feed-request.js';
import type { FeedSettings } from './feed-settings.js';

/** What every client of one feed shares. */
export interface FeedScope {
  readonly hub: EventHub;
  readonly settings: FeedSettings;
  readonly counters: FeedCounters;
  /** Why the node runs degraded right now (e.g. Redis unreachable), as of the last tick. */
  readonly degraded: readonly string[];
  /** Called once when a client is gone, however it went. */
  released(client: FeedClient): void;
}

/**
 * One WebSocket reader of the ring. Its cursor is the next id to consider; a pump, woken by
 * the hub, sends from there while the socket's buffer has room, a bounded number per turn.
 * The hub never waits for it: a client that does not read falls behind, and when the ring
 * overwrites its cursor it is told how many events it lost (a gap). One that stays stuck, or
 * keeps being lapped, is closed with 4008.
 */
export class FeedClient implements EventSubscriber {
  private readonly ring: EventRing;
  private readonly settings: FeedSettings;
  private readonly unsubscribe: () => void;
  private filter: FeedFilter;
  private cursor: number;
  private closed = false;
  private pumpScheduled = false;
  /** When sending stopped on a full buffer, or -1 while the client keeps up. */
  private stalledSince = -1;
  /** Ids overwritten before this client got them and not yet reported; gapFrom -1: none. */
  private gapFrom = -1;
  private gapTo = -1;
  private gapsInRow = 0;
  private windowStart = 0;
  private messagesInWindow = 0;

  constructor(
    private readonly socket: WebSocket,
    /** The connection under the WebSocket, corked while a pump turn writes. */
    private readonly transport: Writable,
    private readonly scope: FeedScope,
    private readonly log: Logger,
    start: FeedStart,
  ) {
    this.ring = scope.hub.ring;
    this.settings = scope.settings;
    this.filter = new FeedFilter(start.filter);
    this.cursor = start.since === null ? this.backlogCursor(start.backlog) : this.resumeCursor(start.since);
    socket.on('message', this.onMessage);
    socket.on('close', this.release);
    this.unsubscribe = scope.hub.subscribe(this);
    this.send(helloMessage(this.ring.nextId - 1, this.ring.oldestId, start.filter, this.settings.heartbeatMs, scope.degraded));
    this.schedule();
  }

  wake(): void {
    this.schedule();
  }

  /** From the feed's shared timer: a heartbeat, or the end of a client stuck too long. */
  tick(now: number): void {
    if (this.stalledSince < 0) this.send(heartbeatMessage(this.cursor - 1, now));
    else if (now - this.stalledSince > this.settings.stallLimitMs) this.closeSlow();
  }

  /** A message for every client (a status change), sent whatever the client's filter. */
  notify(text: string): void {
    this.send(text);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.release();
    this.socket.close(code, reason);
  }

  private readonly release = (): void => {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.scope.released(this);
  };

  private schedule(): void {
    if (this.pumpScheduled || this.closed) return;
    this.pumpScheduled = true;
    setImmediate(this.pump);
  }

  private readonly pump = (): void => {
    this.pumpScheduled = false;
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return;
    // ws writes each message with a syscall of its own; corked, a whole turn goes out in one.
    this.transport.cork();
    try {
      this.advance();
    } finally {
      this.transport.uncork();
    }
  };

  private advance(): void {
    if (this.cursor < this.ring.oldestId) this.lose();
    if (this.socket.bufferedAmount >= this.settings.bufferLimit) return this.stall();
    this.stalledSince = -1;
    if (this.gapFrom >= 0 && !this.reportGap()) return;
    this.sendEvents();
  }

  private sendEvents(): void {
    const ring = this.ring;
    const end = Math.min(ring.nextId, this.cursor + this.settings.eventsPerTurn);
    while (this.cursor < end) {
      const id = this.cursor++;
      // Ids numbered by a shared stream can skip (entries trimmed while Redis was away).
      const event = ring.get(id);
      if (event !== undefined && this.filter.matches(event)) {
        this.send(eventMessage(ring.jsonOf(id)!));
        this.scope.counters.sent++;
      }
    }
    if (this.cursor < ring.nextId) this.schedule();
    else this.gapsInRow = 0;
  }

  /** The ring overwrote the cursor: remember the lost ids (contiguous with any not yet reported). */
  private lose(): void {
    if (this.gapFrom < 0) this.gapFrom = this.cursor;
    this.cursor = this.ring.oldestId;
    this.gapTo = this.cursor - 1;
  }

  /** Sends the pending gap; false when that was one gap too many and the client is closed. */
  private reportGap(): boolean {
    this.send(gapMessage(this.gapFrom, this.gapTo));
    this.scope.counters.gaps++;
    this.scope.counters.missed += this.gapTo - this.gapFrom + 1;
    this.gapFrom = -1;
    if (++this.gapsInRow <= this.settings.maxGapsInRow) return true;
    this.closeSlow();
    return false;
  }

  /** Sending waits for the buffer to drain (afterWrite); stuck too long, the client goes. */
  private stall(): void {
    const now = Date.now();
    if (this.stalledSince < 0) this.stalledSince = now;
    else if (now - this.stalledSince > this.settings.stallLimitMs) this.closeSlow();
  }

  private closeSlow(): void {
    this.scope.counters.slowCloses++;
    this.log.warn({ behind: this.ring.nextId - this.cursor, gaps_in_row: this.gapsInRow }, 'feed client too slow, closed');
    this.close(CloseCode.TOO_SLOW, 'too slow');
  }

  private send(text: string): void {
    this.socket.send(text, this.afterWrite);
  }

  /** Every write's completion: the moment a stalled client has room again. */
  private readonly afterWrite = (): void => {
    if (this.stalledSince >= 0 && this.socket.bufferedAmount < this.settings.bufferLimit) this.schedule();
  };

  private readonly onMessage = (data: RawData, isBinary: boolean): void => {
    if (this.closed) return;
    if (this.overRate(Date.now())) {
      this.log.warn('feed client sent too many messages, closed');
      return this.close(CloseCode.POLICY_VIOLATION, 'too many messages');
    }
    try {
      this.apply(parseClientMessage(data, isBinary));
    } catch (error) {
      if (!(error instanceof FeedError)) throw error;
      this.send(errorMessage(error));
    }
  };

  private overRate(now: number): boolean {
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.messagesInWindow = 0;
    }
    return ++this.messagesInWindow > this.settings.messagesPerSecond;
  }

  private apply(message: ClientMessage): void {
    if (message.type === 'filter') {
      this.filter = new FeedFilter(message.filter);
      this.send(filterMessage(message.filter));
      return;
    }
    this.cursor = this.resumeCursor(message.since);
    this.gapFrom = -1;
    this.gapsInRow = 0;
    this.schedule();
  }

  /** After `since`; an id beyond the newest (ids restarted without history) starts live. */
  private resumeCursor(since: number): number {
    return Math.min(since + 1, this.ring.nextId);
  }

  /** Where the last `count` matching events still in the ring begin. */
  private backlogCursor(count: number): number {
    let id = this.ring.nextId;
    for (let found = 0; found < count && id > this.ring.oldestId; ) {
      const event = this.ring.get(--id);
      if (event !== undefined && this.filter.matches(event)) found++;
    }
    return id;
  }
}
