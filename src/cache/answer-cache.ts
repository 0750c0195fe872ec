import { LRUCache } from 'lru-cache';
import type { Answer } from '../wire/answer.js';
import type { WireRequest } from '../wire/request.js';

/** One cached answer and what serving it needs to know. */
export class CacheEntry {
  hits = 0;
  refreshing = false;

  constructor(
    readonly answer: Answer,
    /** The lower-cased question it answers: hash keys can collide, bytes cannot. */
    readonly question: Buffer,
    readonly storedAt: number,
    readonly expiresAt: number,
    /** Past this it is not even served stale (RFC 8767 §5, max stale). */
    readonly staleUntil: number,
  ) {}

  get lifetimeMs(): number {
    return this.expiresAt - this.storedAt;
  }
}

/**
 * Answers keyed by the request's 53-bit question hash (name, type, class, DO and CD bits).
 * A number key keeps the lookup free of string building; a byte comparison of the question
 * guards against collisions. Expiry is judged by the caller so expired entries stay
 * available for serve-stale until the LRU evicts them.
 */
export class AnswerCache {
  private readonly lru: LRUCache<number, CacheEntry>;

  constructor(maxEntries: number) {
    this.lru = new LRUCache<number, CacheEntry>({ max: maxEntries });
  }

  get size(): number {
    return this.lru.size;
  }

  get(req: WireRequest): CacheEntry | undefined {
    const entry = this.lru.get(req.key);
    if (entry === undefined) return undefined;
    const question = entry.question;
    if (question.length !== req.questionLength || question.compare(req.question, 0, req.questionLength) !== 0) {
      return undefined;
    }
    return entry;
  }

  set(req: WireRequest, answer: Answer, now: number, ttlSeconds: number, staleSeconds: number): CacheEntry {
    const question = Buffer.allocUnsafe(req.questionLength);
    req.question.copy(question, 0, 0, req.questionLength);
    const expiresAt = now + ttlSeconds * 1000;
    const entry = new CacheEntry(answer, question, now, expiresAt, expiresAt + staleSeconds * 1000);
    this.lru.set(req.key, entry);
    return entry;
  }

  clear(): void {
    this.lru.clear();
  }
}
