import type { DetectionEvent } from '../events/detection-event.js';
import type { EventHub, EventSubscriber } from '../events/event-hub.js';
import type { EventRing } from '../events/event-ring.js';
import type { EventStore } from './event-store.js';
import type { FailureLog } from '../logging/failure-log.js';

/** Most events per transaction; also the backlog that triggers a write without waiting. */
const BATCH_MAX = 1000;
/** How long events may wait to be batched with later ones. */
const BATCH_DELAY_MS = 200;
/** Pause after a failed write before the same batch is tried again. */
const RETRY_DELAY_MS = 1000;

/** Counters the metrics layer reads. */
export interface WriterCounters {
  written: number;
  /** Events the ring overwrote before they could be written (the writer fell too far behind). */
  lost: number;
  batches: number;
}

/**
 * The hub subscriber that copies events into the history. It reads the ring from its own
 * cursor, so the hub never waits for it: a write that fails or lags only risks events
 * rolling out of the ring, which are counted as lost. Batches go out every BATCH_DELAY_MS,
 * or at once when BATCH_MAX events wait.
 */
export class EventWriter implements EventSubscriber {
  readonly counters: WriterCounters = { written: 0, lost: 0, batches: 0 };
  private ring: EventRing | null = null;
  /** Id of the next event to write. */
  private cursor = 0;
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private closed = false;
  private readonly onTimer = (): void => {
    this.timer = null;
    this.flush();
  };

  constructor(
    private readonly store: EventStore,
    private readonly failures: FailureLog,
  ) {}

  attach(hub: EventHub): void {
    if (this.ring !== null) throw new Error('the history is already attached to an event hub');
    this.ring = hub.ring;
    // Never write an id twice, even if the hub was numbered from an older high-water mark.
    this.cursor = Math.max(hub.ring.oldestId, this.store.maxId() + 1);
    this.unsubscribe = hub.subscribe(this);
    if (this.backlog() > 0) this.schedule(BATCH_DELAY_MS);
  }

  wake(): void {
    // While writes fail, the retry timer alone decides when to try again.
    if (this.backlog() >= BATCH_MAX && this.failures.reason === null) this.flush();
    else this.schedule(BATCH_DELAY_MS);
  }

  /** Something besides events waits to be written (a new pseudonym). */
  nudge(): void {
    this.schedule(BATCH_DELAY_MS);
  }

  /**
   * Stops listening and writes everything still pending, so a graceful restart loses no
   * event. Returns how many events could not be written (the database refused them).
   */
  close(): number {
    if (this.closed) return 0;
    this.closed = true;
    this.unsubscribe?.();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    while (this.backlog() > 0 || this.store.hasPending) {
      if (!this.writeBatch()) break;
    }
    const unwritten = this.backlog();
    this.counters.lost += unwritten;
    return unwritten;
  }

  /** Events in the ring not yet written. */
  backlog(): number {
    return this.ring === null ? 0 : this.ring.nextId - this.cursor;
  }

  private schedule(delayMs: number): void {
    if (this.timer === null && !this.closed) this.timer = setTimeout(this.onTimer, delayMs).unref();
  }

  private flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (!this.writeBatch()) {
      this.schedule(RETRY_DELAY_MS);
      return;
    }
    // A large backlog goes out one batch per turn so the event loop keeps serving the feed.
    const backlog = this.backlog();
    if (backlog > 0) this.schedule(backlog >= BATCH_MAX ? 0 : BATCH_DELAY_MS);
  }

  /** Writes `events` in one transaction, counted and reported; throws when the database refused. */
  write(events: readonly DetectionEvent[]): void {
    let stored: number;
    try {
      stored = this.store.write(events);
    } catch (error) {
      this.failures.failed(error);
      throw error;
    }
    this.failures.succeeded();
    this.counters.written += stored;
    this.counters.batches++;
  }

  /** Writes up to BATCH_MAX events from the cursor; false when the database refused. */
  private writeBatch(): boolean {
    const batch = this.take();
    if (batch.length === 0 && !this.store.hasPending) return true;
    try {
      this.write(batch);
    } catch {
      return false; // already counted and logged; the batch stays in the ring for the retry
    }
    this.cursor += batch.length;
    return true;
  }

  /** The next batch, after skipping (and counting) whatever the ring already overwrote. */
  private take(): DetectionEvent[] {
    const ring = this.ring;
    if (ring === null) return [];
    if (this.cursor < ring.oldestId) {
      this.counters.lost += ring.oldestId - this.cursor;
      this.cursor = ring.oldestId;
    }
    const end = Math.min(ring.nextId, this.cursor + BATCH_MAX);
    const batch: DetectionEvent[] = [];
    for (let id = this.cursor; id < end; id++) batch.push(ring.get(id)!);
    return batch;
  }
}
