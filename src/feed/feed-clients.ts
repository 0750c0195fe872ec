import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { EventHub } from '../events/event-hub.js';
import { FeedClient, type FeedScope } from './feed-client.js';
import type { FeedCounters } from './feed-counters.js';
import { CloseCode, statusMessage } from './feed-protocol.js';
import type { FeedStart } from './feed-request.js';
import type { FeedSettings } from './feed-settings.js';

/**
 * The connected clients of one feed: admits up to the limit and drives all of them from one
 * timer (heartbeats, stalled-client checks), which runs only while someone is connected.
 */
/** Who opened a feed socket: a name for the log, the keys of the access it hangs on, and when that access expires. */
export interface FeedOwner {
  readonly name: string;
  readonly keys: readonly string[];
  /** Epoch milliseconds (Infinity for a token): the socket closes within a heartbeat after it. */
  readonly expires: number;
}

/** The close reason for a socket whose session expired, as the authenticator words it. */
const EXPIRED = 'session expired';

export class FeedClients {
  /** Each client with the access it was opened with. */
  private readonly clients = new Map<FeedClient, FeedOwner>();
  private readonly scope: { -readonly [K in keyof FeedScope]: FeedScope[K] };
  private timer: NodeJS.Timeout | null = null;

  constructor(
    hub: EventHub,
    settings: FeedSettings,
    counters: FeedCounters,
    private readonly health: () => readonly string[],
    private readonly log: Logger,
  ) {
    this.scope = { hub, settings, counters, degraded: health(), released: (client) => this.released(client) };
  }

  /** Takes a new client, or closes it with 1013 when the feed is full. */
  admit(socket: WebSocket, transport: Writable, start: FeedStart, owner: FeedOwner): void {
    const log = this.log.child({ principal: owner.name });
    if (this.clients.size >= this.scope.settings.maxClients) {
      this.scope.counters.refused++;
      log.warn({ clients: this.clients.size }, 'feed full, connection refused');
      socket.close(CloseCode.TRY_AGAIN_LATER, 'try again later');
      return;
    }
    this.scope.degraded = this.health();
    this.clients.set(new FeedClient(socket, transport, this.scope, log, start), owner);
    this.scope.counters.clients++;
    this.timer ??= setInterval(this.tick, this.scope.settings.heartbeatMs).unref();
  }

  /** Closes every client opened with access `key` (a session or a token that ended). */
  closeOwnedBy(key: string, code: number, reason: string): void {
    for (const [client, owner] of this.clients) if (owner.keys.includes(key)) client.close(code, reason);
  }

  private released(client: FeedClient): void {
    this.clients.delete(client);
    this.scope.counters.clients--;
    if (this.clients.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private readonly tick = (): void => {
    const now = Date.now();
    // Health changes (Redis lost or back) reach every client within one heartbeat interval.
    const degraded = this.health();
    const changed = degraded.join('\n') !== this.scope.degraded.join('\n');
    this.scope.degraded = degraded;
    const status = changed ? statusMessage(degraded) : null;
    for (const [client, owner] of this.clients) {
      if (owner.expires <= now) {
        client.close(CloseCode.ACCESS_ENDED, EXPIRED);
        continue;
      }
      if (status !== null) client.notify(status);
      client.tick(now);
    }
  };
}
