/**
 * A FIFO of at most `capacity` items. Pushing onto a full queue drops the oldest item, so a
 * stalled consumer costs old messages, never memory or the producer's time.
 */
export class BoundedQueue<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity).fill(undefined);
  }

  get length(): number {
    return this.count;
  }

  /** Appends `item`; returns how many items were dropped to make room (0 or 1). */
  push(item: T): number {
    const dropped = this.count === this.capacity ? 1 : 0;
    if (dropped === 1) this.shift();
    this.items[(this.head + this.count) % this.capacity] = item;
    this.count++;
    return dropped;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return item;
  }

  /** Empties the queue; returns how many items it held. */
  clear(): number {
    const held = this.count;
    while (this.count > 0) this.shift();
    return held;
  }
}
