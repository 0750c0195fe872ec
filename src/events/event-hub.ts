import type { DetectionEvent } from './detection-event.js';
import type { EventSink } from './event-sink.js';
import { EventRing } from './event-ring.js';
import type { Pseudonymiser } from './pseudonymiser.js';
import { ResidualTracker } from './residual-tracker.js';

/** A reader of the ring (a feed client, the history writer): told that new events exist. */
export interface EventSubscriber {
  /** Called at most once per event-loop turn after events were published. Must not throw. */
  wake(): void;
}

/** Counters the metrics layer reads. */
export class HubCounters {
  published = 0;
  /** Events workers could not hand over (their bounded queue was full), as they reported. */
  droppedInWorkers = 0;
}

export interface HubSettings {
  capacity: number;
  /** Id of the first event: one past the highest id in the history, so ids never repeat. */
  firstId: number;
  residualWindowMs: number;
  pseudonymiser: Pseudonymiser | null;
  /**
   * With several instances: where this instance's events go to be numbered and shared (the
   * Redis stream); they come back through accept(). Null: numbered and kept here.
   */
  forward?: EventSink | null;
}

/**
 * Where every worker's events meet, in the process that owns the feed and the history:
 * numbers them, replaces client addresses by pseudonyms, derives residual-activity events,
 * stores them in the ring and wakes subscribers once per turn. Publishing is O(1) and never
 * waits for a subscriber.
 */
export class EventHub implements EventSink {
  readonly ring: EventRing;
  readonly counters = new HubCounters();
  private readonly subscribers = new Set<EventSubscriber>();
  private readonly residual: ResidualTracker;
  private wakeScheduled = false;
  private readonly wakeAll = (): void => {
    this.wakeScheduled = false;
    for (const subscriber of this.subscribers) subscriber.wake();
  };

  constructor(private readonly settings: HubSettings) {
    this.ring = new EventRing(settings.capacity, settings.firstId);
    this.residual = new ResidualTracker(settings.residualWindowMs);
  }

  /** The hub takes every event; only its readers can fall behind. */
  readonly dropped = 0;

  /** Takes an event recorded by a worker (id not yet set, client still an address). */
  publish(event: DetectionEvent): void {
    if (this.settings.pseudonymiser !== null) event.client = this.settings.pseudonymiser.of(event.client);
    const residual = this.residual.observe(event);
    const forward = this.settings.forward ?? null;
    if (forward !== null) {
      forward.publish(event);
      if (residual !== null) forward.publish(residual);
      return;
    }
    this.ring.push(event);
    this.published();
    if (residual !== null) {
      this.ring.push(residual);
      this.published();
    }
  }

  /** Takes an event already numbered by the shared stream (any instance's, own ones included). */
  accept(event: DetectionEvent): void {
    if (this.ring.pushNumbered(event)) this.published();
  }

  subscribe(subscriber: EventSubscriber): () => void {
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  private published(): void {
    this.counters.published++;
    if (!this.wakeScheduled && this.subscribers.size > 0) {
      this.wakeScheduled = true;
      setImmediate(this.wakeAll);
    }
  }
}
