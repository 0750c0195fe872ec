import type { DetectionEvent } from './detection-event.js';

/**
 * The last `capacity` events, numbered consecutively. Preallocated; a push overwrites the
 * oldest slot and never waits, so a slow reader can only lose events, never hold up the
 * writer. Each slot caches its JSON text, built on first read and shared by every reader.
 */
export class EventRing {
  private readonly events: (DetectionEvent | undefined)[];
  private readonly json: (string | undefined)[];
  /** Id the next pushed event gets. */
  nextId: number;

  constructor(
    readonly capacity: number,
    private firstId: number,
  ) {
    this.events = new Array<DetectionEvent | undefined>(capacity).fill(undefined);
    this.json = new Array<string | undefined>(capacity).fill(undefined);
    this.nextId = firstId;
  }

  /** Oldest id still held (equal to nextId while empty). */
  get oldestId(): number {
    return Math.max(this.firstId, this.nextId - this.capacity);
  }

  /** Numbers `event` and stores it, overwriting the oldest when full. */
  push(event: DetectionEvent): void {
    event.id = this.nextId++;
    const slot = event.id % this.capacity;
    this.events[slot] = event;
    this.json[slot] = undefined;
  }

  /**
   * Stores an event numbered elsewhere (the shared stream of several instances). Ids must
   * grow; an id below nextId is a replay and ignored. The first one sets where the ring
   * starts; ids skipped later (a stream trimmed while unreachable) are simply absent.
   */
  pushNumbered(event: DetectionEvent): boolean {
    if (event.id < this.nextId) return false;
    if (this.nextId === this.firstId) this.firstId = event.id;
    const slot = event.id % this.capacity;
    this.events[slot] = event;
    this.json[slot] = undefined;
    this.nextId = event.id + 1;
    return true;
  }

  /** The event with `id`, or undefined when it was overwritten, skipped or not yet pushed. */
  get(id: number): DetectionEvent | undefined {
    if (id < this.oldestId || id >= this.nextId) return undefined;
    const event = this.events[id % this.capacity];
    return event?.id === id ? event : undefined;
  }

  /** `get(id)` as JSON, serialised once per event however many readers ask. */
  jsonOf(id: number): string | undefined {
    const event = this.get(id);
    if (event === undefined) return undefined;
    const slot = id % this.capacity;
    return (this.json[slot] ??= JSON.stringify(event));
  }
}
