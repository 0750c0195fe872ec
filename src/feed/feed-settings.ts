/** Limits of the live feed; tests shorten the timings. */
export interface FeedSettings {
  /** Interval of the one timer that sends heartbeats and closes stalled clients. */
  readonly heartbeatMs: number;
  /** Connected clients; one more is closed with 1013. */
  readonly maxClients: number;
  /** Bytes queued for a client above which sending pauses until it reads (checked per turn). */
  readonly bufferLimit: number;
  /** Events examined per pump turn before yielding, so one client cannot hog the loop. */
  readonly eventsPerTurn: number;
  /** A client that takes nothing (buffer full) for this long is closed as too slow. */
  readonly stallLimitMs: number;
  /** Gaps in a row, without catching up in between, after which a client is closed as too slow. */
  readonly maxGapsInRow: number;
  /** Messages a client may send per second before it is closed with 1008. */
  readonly messagesPerSecond: number;
}

export const DEFAULT_FEED_SETTINGS: FeedSettings = {
  heartbeatMs: 15_000,
  maxClients: 256,
  bufferLimit: 1024 * 1024,
  eventsPerTurn: 512,
  stallLimitMs: 30_000,
  maxGapsInRow: 5,
  messagesPerSecond: 20,
};
