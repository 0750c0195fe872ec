import type { Query, VerdictRef } from '../pipeline/query.js';
import { NO_TAGS, tagsOf, type AnswerTags } from '../tagging/answer-tags.js';
import type { DetectionEvent, EventKind } from './detection-event.js';
import type { EventSink } from './event-sink.js';

/**
 * Folds open at once (about 530 bytes each): far above the distinct repeating queries of a
 * window in real traffic. Beyond it the oldest is closed early: its count goes out, nothing is lost.
 */
const MAX_FOLDS = 20_000;

/** Folds remembered by question for repeatOf(): a power of two, indexed by the question hash's low bits. */
const BY_QUESTION = 4096;

function questionSlot(key: number): number {
  return key & (BY_QUESTION - 1);
}

interface Fold {
  /** The newest event of the fold: published already when `repeats` is 0, else held back. */
  last: DetectionEvent;
  /** Identical queries since the last published event. */
  repeats: number;
  /** End of the current window (performance.now() ms). */
  until: number;
  /** False once the fold is gone from the table: a stale by-question slot then finds nothing. */
  open: boolean;
  /**
   * The query the last event was recorded for, when the recorder passed it (NaN as the
   * question's hash otherwise): what repeatOf() matches a query against.
   */
  question: number;
  client: string;
  device: string | null;
  group: object | null;
  verdict: VerdictRef | null;
  tags: AnswerTags;
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
  /** Folds by the low bits of their question's hash, for repeatOf(); the fold last recorded wins a shared slot. */
  private readonly byQuestion: (Fold | undefined)[] = new Array<Fold | undefined>(BY_QUESTION).fill(undefined);
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

  /**
   * `query`: the query the recorder made `event` for, so that its repeats can be counted by
   * repeatOf() without an event being made for each.
   */
  publish(event: DetectionEvent, query: Query | null = null): void {
    const now = performance.now();
    const key = `${event.device ?? event.client} ${event.client} ${event.qtype} ${event.qname}`;
    let fold = this.folds.get(key);
    if (fold !== undefined && fold.until <= now) fold = this.expire(key, fold, now);
    if (fold !== undefined) {
      if (sameDetection(fold.last, event)) {
        fold.last = event;
        fold.repeats++;
        this.folded++;
        if (query !== null) this.remember(fold, query);
        return;
      }
      this.release(fold);
      this.remove(key, fold);
    }
    this.sink.publish(event);
    const opened: Fold = { last: event, repeats: 0, until: now + this.windowMs, open: true, question: NaN, client: '', device: null, group: null, verdict: null, tags: NO_TAGS };
    this.folds.set(key, opened);
    if (query !== null) this.remember(opened, query);
    if (this.folds.size > this.maxFolds) {
      const [oldestKey, oldest] = this.folds.entries().next().value!;
      this.release(oldest);
      this.remove(oldestKey, oldest);
    }
  }

  /**
   * The recorder's way past making an event for a repeat: when `query` (recorded as `kind`,
   * answered `rcode`) is a repeat of the query an open fold recorded last (same device,
   * client and question, within the window; same group, verdict and tags), it is counted
   * into that fold and the held event is returned for the recorder to write the query's
   * time, latency and cache state into; otherwise null, and the recorder publishes an event.
   * Queries whose tags are NO_TAGS never take this way: their hosting is looked up per answer.
   */
  repeatOf(query: Query, kind: EventKind, rcode: string): DetectionEvent | null {
    const fold = this.byQuestion[questionSlot(query.key)];
    if (fold === undefined || !fold.open || fold.question !== query.key || fold.client !== query.client || fold.device !== query.device) return null;
    const last = fold.last;
    const tags = tagsOf(query);
    if (last.kind !== kind || last.rcode !== rcode || fold.group !== query.group || tags === NO_TAGS || !sameTags(fold.tags, tags)) return null;
    if (!sameVerdict(fold.verdict, query.verdict) || fold.until <= performance.now()) return null;
    // Without repeats the newest event went out already, so the held one is a copy of it.
    if (fold.repeats === 0) fold.last = { ...last };
    fold.repeats++;
    this.folded++;
    return fold.last;
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
    for (const [key, fold] of this.folds) {
      this.release(fold);
      this.remove(key, fold);
    }
  }

  /** A window ended: its count goes out, and the fold stays for one more window only if the repeats went on. */
  private expire(key: string, fold: Fold, now: number): Fold | undefined {
    if (fold.repeats === 0) {
      this.remove(key, fold);
      return undefined;
    }
    this.folds.delete(key);
    this.release(fold);
    fold.until = now + this.windowMs;
    this.folds.set(key, fold);
    return fold;
  }

  private remove(key: string, fold: Fold): void {
    this.folds.delete(key);
    fold.open = false;
    // Not kept alive by its slot (with its last event) until another question takes it.
    const slot = questionSlot(fold.question);
    if (this.byQuestion[slot] === fold) this.byQuestion[slot] = undefined;
  }

  private remember(fold: Fold, query: Query): void {
    fold.question = query.key;
    fold.client = query.client;
    fold.device = query.device;
    fold.group = query.group;
    fold.verdict = query.verdict;
    fold.tags = tagsOf(query);
    this.byQuestion[questionSlot(query.key)] = fold;
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

/** What sameDetection compares of the verdict, for repeatOf(). */
function sameVerdict(a: VerdictRef | null, b: VerdictRef | null): boolean {
  return a === b || (a !== null && b !== null && a.action === b.action && a.rule === b.rule && a.exemption === b.exemption && a.bypassSignal === b.bypassSignal);
}

/** What the event takes from the tags (app, matched name, attribution, owner, hosting), for repeatOf(). */
function sameTags(a: AnswerTags, b: AnswerTags): boolean {
  return (
    a === b ||
    (a.app === b.app &&
      a.matchedName === b.matchedName &&
      a.networkOwner === b.networkOwner &&
      a.ownerWatchlisted === b.ownerWatchlisted &&
      a.hostingWatchlisted === b.hostingWatchlisted &&
      sameHosting(a.hosting, b.hosting))
  );
}

/** Hosting tags are cached per address (GeoTagger), so the same answer gives the same objects. */
function sameHosting(a: readonly object[], b: readonly object[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
