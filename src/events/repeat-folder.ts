import type { DetectionEvent } from './detection-event.js';
import type { EventSink } from './event-sink.js';

/**
 * Folds open at once (about 530 bytes each): far above the distinct repeating queries of a
 * window in real traffic. Beyond it the oldest is closed early: its count goes out, nothing is lost.
 */
const MAX_FOLDS = 20_000;

interface Fold {
  /** The newest event of the fold: published already when `repeats` is 0, else held back. */
  last: DetectionEvent;
  /** Identical queries since the last published event. */
  repeats: number;
  /** End of the current window (performance.now() ms). */
  until: number;
}

/**
 * Folds a device's identical repeats into one event, in front of the hub. The first query
 * of a device for a name and type goes out at once; identical ones in the window after it
 * are only counted, and when the window closes one event carries their count. While the
 * repeats go on, every window yields one such event, so an app looping on a name costs the
 * feed and history one row per window instead of one per query. A query that differs in
 * anything but timing (verdict, answer, hosting) closes the fold early: the count so far
 * goes out, then the new event.
 */
export class RepeatFolder implements EventSink {
  /** Queries counted into a later event instead of being published on their own. */
  folded = 0;
  /** "client qtype qname" → its fold; Map order is window order (every change re-inserts). */
  private readonly folds = new Map<string, Fold>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly sink: EventSink,
    private readonly windowMs: number,
    private readonly maxFolds = MAX_FOLDS,
  ) {
    this.timer = setInterval(() => this.sweep(performance.now()), Math.max(10, windowMs / 4)).unref();
  }

  get dropped(): number {
    return this.sink.dropped;
  }

  publish(event: DetectionEvent): void {
    const now = performance.now();
    const key = `${event.device ?? event.client} ${event.client} ${event.qtype} ${event.qname}`;
    let fold = this.folds.get(key);
    if (fold !== undefined && fold.until <= now) fold = this.expire(key, fold, now);
    if (fold !== undefined) {
      if (sameDetection(fold.last, event)) {
        fold.last = event;
        fold.repeats++;
        this.folded++;
        return;
      }
      this.release(fold);
      this.folds.delete(key);
    }
    this.sink.publish(event);
    this.folds.set(key, { last: event, repeats: 0, until: now + this.windowMs });
    if (this.folds.size > this.maxFolds) {
      const [oldestKey, oldest] = this.folds.entries().next().value!;
      this.release(oldest);
      this.folds.delete(oldestKey);
    }
  }

  /** Closes every window at `now` or before; the timer calls it, tests may too. */
  sweep(now: number): void {
    for (const [key, fold] of this.folds) {
      if (fold.until > now) break;
      this.expire(key, fold, now);
    }
  }

  /** Publishes every held count and stops; the resolver calls it when it drains. */
  close(): void {
    clearInterval(this.timer);
    for (const fold of this.folds.values()) this.release(fold);
    this.folds.clear();
  }

  /** A window ended: its count goes out, and the fold stays for one more window only if the repeats went on. */
  private expire(key: string, fold: Fold, now: number): Fold | undefined {
    this.folds.delete(key);
    if (fold.repeats === 0) return undefined;
    this.release(fold);
    fold.until = now + this.windowMs;
    this.folds.set(key, fold);
    return fold;
  }

  private release(fold: Fold): void {
    if (fold.repeats === 0) return;
    // Held back, so not yet the hub's: the event itself can carry the count.
    fold.last.count = fold.repeats;
    this.sink.publish(fold.last);
    fold.repeats = 0;
  }
}

/** Everything but timing equal (ts, latency and cache state are the last query's anyway). */
function sameDetection(a: DetectionEvent, b: DetectionEvent): boolean {
  return (
    a.kind === b.kind &&
    a.action === b.action &&
    a.rule === b.rule &&
    a.exemption === b.exemption &&
    a.group === b.group &&
    a.rcode === b.rcode &&
    a.app?.id === b.app?.id &&
    a.matched_name === b.matched_name &&
    a.attribution === b.attribution &&
    a.owner?.name === b.owner?.name &&
    a.owner_watchlisted === b.owner_watchlisted &&
    a.hosting_watchlisted === b.hosting_watchlisted &&
    a.instance === b.instance &&
    sameHosting(a.hosting, b.hosting)
  );
}

/** Hosting tags are cached per address (GeoTagger), so the same answer gives the same objects. */
function sameHosting(a: DetectionEvent['hosting'], b: DetectionEvent['hosting']): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
