import type { DetectionEvent } from './detection-event.js';
import type { EventSink } from './event-sink.js';

/** A batch of a worker's events on its way to the primary, which owns the hub. */
export interface EventBatchMessage {
  type: 'events';
  events: DetectionEvent[];
  /** Events this worker dropped since the previous batch. */
  dropped: number;
}

export interface BatcherSettings {
  /** Events held at most; beyond it new events are dropped and counted. */
  maxPending: number;
  /** Flush at least this often, in ms. */
  intervalMs: number;
  /** Sends one batch; returns false when the channel is congested (the batch is still queued by Node). */
  send(message: EventBatchMessage, done: () => void): boolean;
}

/**
 * A cluster worker's sink: collects events and hands them to the primary in batches, so the
 * IPC channel carries one message per interval instead of one per query. Bounded: when the
 * primary does not keep up, new events are dropped and counted, and the resolver never waits.
 */
export class EventBatcher implements EventSink {
  dropped = 0;
  private pending: DetectionEvent[] = [];
  private droppedSinceSend = 0;
  private inFlight = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly sent = (): void => {
    this.inFlight--;
  };

  constructor(private readonly settings: BatcherSettings) {
    this.timer = setInterval(() => this.flush(), settings.intervalMs).unref();
  }

  publish(event: DetectionEvent): void {
    // Batches still in the IPC channel count too, so a stalled primary cannot grow memory.
    if (this.pending.length + this.inFlight * this.settings.maxPending >= this.settings.maxPending * 4) {
      this.dropped++;
      this.droppedSinceSend++;
      return;
    }
    this.pending.push(event);
    if (this.pending.length >= this.settings.maxPending) this.flush();
  }

  /** Sends what is pending now; resolves once the channel has taken it. */
  flush(): Promise<void> {
    if (this.pending.length === 0 && this.droppedSinceSend === 0) return Promise.resolve();
    const message: EventBatchMessage = { type: 'events', events: this.pending, dropped: this.droppedSinceSend };
    this.pending = [];
    this.droppedSinceSend = 0;
    this.inFlight++;
    return new Promise((resolve) => {
      this.settings.send(message, () => {
        this.sent();
        resolve();
      });
    });
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    return this.flush();
  }
}
