import { Stage } from '../pipeline/stage.js';
import type { Query } from '../pipeline/query.js';
import { Answer, AnswerKind } from '../wire/answer.js';
import { AnswerCache, NO_SLOT } from './answer-cache.js';

export interface CacheSettings {
  maxEntries: number;
  /** Bytes of answers kept (slab pages and oversized answers). */
  maxBytes: number;
  minTtl: number;
  maxTtl: number;
  negativeMaxTtl: number;
  serveStale: { enabled: boolean; maxAgeSeconds: number; answerTtl: number };
  prefetch: { enabled: boolean; minHits: number; remainingRatio: number };
}

/** Counters the metrics layer reads; plain numbers so the hot path only increments. */
export class CacheCounters {
  hits = 0;
  misses = 0;
  stale = 0;
  prefetches = 0;
}

/**
 * Serves fresh entries synchronously, sends misses down the chain and stores what comes
 * back. When everything below fails, a stale entry is served instead (RFC 8767), and popular
 * entries are refreshed shortly before they expire so their clients never wait.
 */
export class CacheStage extends Stage {
  readonly name = 'cache';
  readonly cache: AnswerCache;
  readonly counters = new CacheCounters();

  constructor(private readonly settings: CacheSettings) {
    super();
    this.cache = new AnswerCache(settings.maxEntries, settings.maxBytes);
  }

  resolve(query: Query): Answer | Promise<Answer> {
    const now = Date.now();
    const cache = this.cache;
    const slot = cache.find(query);
    if (slot !== NO_SLOT && now < cache.expiresAt(slot)) {
      this.counters.hits++;
      const hits = cache.hit(slot);
      const storedAt = cache.storedAt(slot);
      query.cacheAge = Math.floor((now - storedAt) / 1000);
      const prefetch = this.settings.prefetch;
      if (
        prefetch.enabled &&
        hits >= prefetch.minHits &&
        !cache.isRefreshing(slot) &&
        cache.expiresAt(slot) - now < cache.lifetimeMs(slot) * prefetch.remainingRatio
      ) {
        cache.setRefreshing(slot, true);
        this.refresh(query);
      }
      return cache.view(slot);
    }
    this.counters.misses++;
    // Held across the upstream round trip, so an answer of its own rather than the cache's view.
    const stale = slot !== NO_SLOT && now < cache.staleUntil(slot) ? cache.copy(slot) : null;
    return this.fetch(query, stale);
  }

  private async fetch(query: Query, stale: Answer | null): Promise<Answer> {
    let answer: Answer;
    try {
      answer = await this.next.resolve(query);
    } catch (error) {
      if (stale !== null) return this.serveStale(query, stale);
      throw error;
    }
    if (answer.kind === AnswerKind.UNCACHEABLE && stale !== null) return this.serveStale(query, stale);
    this.store(query, answer);
    return answer;
  }

  private serveStale(query: Query, stale: Answer): Answer {
    this.counters.stale++;
    query.fixedTtl = this.settings.serveStale.answerTtl;
    return stale;
  }

  private refresh(query: Query): void {
    this.counters.prefetches++;
    const copy = query.clone();
    copy.channel = null;
    Promise.resolve()
      .then(() => this.next.resolve(copy))
      .then(
        (answer) => {
          // Storing replaces the entry, which clears its refreshing mark.
          if (this.cacheTtl(answer) > 0) this.store(copy, answer);
          else this.refreshDone(copy);
        },
        () => this.refreshDone(copy),
      );
  }

  /** A refresh that brought nothing to store: the entry expires normally and the next miss retries. */
  private refreshDone(copy: Query): void {
    const slot = this.cache.find(copy);
    if (slot !== NO_SLOT) this.cache.setRefreshing(slot, false);
  }

  private store(query: Query, answer: Answer): void {
    const ttl = this.cacheTtl(answer);
    if (ttl <= 0) return;
    const stale = this.settings.serveStale.enabled ? this.settings.serveStale.maxAgeSeconds : 0;
    this.cache.set(query, answer, Date.now(), ttl, stale);
  }

  private cacheTtl(answer: Answer): number {
    const { minTtl, maxTtl, negativeMaxTtl } = this.settings;
    if (answer.kind === AnswerKind.POSITIVE) return Math.min(Math.max(answer.ttl, minTtl), maxTtl);
    // RFC 2308: a negative answer without a SOA (ttl 0) is not cached, whatever min_ttl says.
    if (answer.kind === AnswerKind.NEGATIVE && answer.ttl > 0) {
      return Math.min(Math.max(answer.ttl, minTtl), negativeMaxTtl, maxTtl);
    }
    return 0;
  }
}
