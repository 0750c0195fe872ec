/** One sink's counters, read by the metrics layer; all only grow. */
export class SinkCounters {
  /** Messages handed to the socket or file. */
  exported = 0;
  /** Events this sink never sent: queue overflow, failed sends, or overwritten in the ring before they were read. */
  dropped = 0;
  /** Connection, send and file errors. */
  errors = 0;
  /** UDP datagrams cut to the size limit. */
  truncated = 0;
}

/** Where formatted messages go. `send` never blocks and never throws. */
export interface SiemSink {
  readonly counters: SinkCounters;
  send(message: Buffer): void;
  /** Sends or writes what is still queued (within closeTimeoutMs), then releases the socket or file. */
  close(): Promise<void>;
}

export interface SinkOptions {
  /** Messages held while the receiver is away or pushing back; beyond it messages are dropped. */
  capacity: number;
  /** First pause before a failed connection or file is opened again; it doubles up to maxBackoffMs. */
  minBackoffMs: number;
  maxBackoffMs: number;
  /** How long close() waits for a connection to open, and again for it to flush. */
  closeTimeoutMs: number;
}

export const SINK_DEFAULTS: SinkOptions = { capacity: 10_000, minBackoffMs: 100, maxBackoffMs: 30_000, closeTimeoutMs: 2000 };

/** Resolves when `emitter` emits one of `events`, or after `timeoutMs`. */
export function settle(emitter: NodeJS.EventEmitter, events: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      for (const event of events) emitter.off(event, done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    for (const event of events) emitter.once(event, done);
  });
}
