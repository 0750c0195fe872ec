import type { DetectionEvent } from './detection-event.js';
import type { EventSink } from './event-sink.js';
import { EventRing } from './event-ring.js';
import { ID_BLOCK, type IdStore } from './id-store.js';
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
  /** Id of the first event: one past the highest id stored or reserved, so ids never repeat. */
  firstId: number;
  /**
   * Where ids are reserved, a block at a time, before they are handed out; null: nowhere
   * (a node without history or id file, or one numbered by the shared stream).
   */
  ids?: IdStore | null;
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
 * waits for a subscriber; once per ID_BLOCK ids it writes the next id reservation first.
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

  /** Highest id reserved in the id store; ids above it are not handed out before it is raised. */
  private reservedThrough: number;

  constructor(private readonly settings: HubSettings) {
    this.ring = new EventRing(settings.capacity, settings.firstId);
    this.residual = new ResidualTracker(settings.residualWindowMs);
    this.reservedThrough = settings.firstId - 1;
  }

  /** The hub takes every event; only its readers can fall behind. */
  readonly dropped = 0;

  /** Takes an event recorded by a worker (id not yet set, client still an address). */
  publish(event: DetectionEvent): void {
    const pseudonymiser = this.settings.pseudonymiser;
    if (pseudonymiser !== null) {
      event.client = pseudonymiser.of(event.client);
      if (event.device !== null) event.device = pseudonymiser.of(event.device);
    }
    const residual = this.residual.observe(event);
    const forward = this.settings.forward ?? null;
    if (forward !== null) {
      forward.publish(event);
      if (residual !== null) forward.publish(residual);
      return;
    }
    this.number(event);
    if (residual !== null) this.number(residual);
  }

  private number(event: DetectionEvent): void {
    if (this.ring.nextId > this.reservedThrough) {
      // Persisted before the id is used: a crash can skip ids, never hand one out twice.
      this.reservedThrough = this.ring.nextId + ID_BLOCK - 1;
      this.settings.ids?.reserve(this.reservedThrough);
    }
    this.ring.push(event);
    this.published();
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
