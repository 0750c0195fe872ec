import { Stage } from '../pipeline/stage.js';
import type { Query } from '../pipeline/query.js';
import { Answer, AnswerKind } from '../wire/answer.js';
import { AnswerCache, type CacheEntry } from './answer-cache.js';

export interface CacheSettings {
  maxEntries: number;
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
    this.cache = new AnswerCache(settings.maxEntries);
  }

  resolve(query: Query): Answer | Promise<Answer> {
    const now = Date.now();
    const entry = this.cache.get(query);
    if (entry !== undefined && now < entry.expiresAt) {
      this.counters.hits++;
      entry.hits++;
      query.cacheAge = Math.floor((now - entry.storedAt) / 1000);
      const prefetch = this.settings.prefetch;
      if (
        prefetch.enabled &&
        !entry.refreshing &&
        entry.hits >= prefetch.minHits &&
        entry.expiresAt - now < entry.lifetimeMs * prefetch.remainingRatio
      ) {
        this.refresh(query, entry);
      }
      return entry.answer;
    }
    this.counters.misses++;
    const stale = entry !== undefined && now < entry.staleUntil ? entry : undefined;
    return this.fetch(query, stale);
  }

  private async fetch(query: Query, stale: CacheEntry | undefined): Promise<Answer> {
    let answer: Answer;
    try {
      answer = await this.next.resolve(query);
    } catch (error) {
      if (stale !== undefined) return this.serveStale(query, stale);
      throw error;
    }
    if (answer.kind === AnswerKind.UNCACHEABLE && stale !== undefined) return this.serveStale(query, stale);
    this.store(query, answer);
    return answer;
  }

  private serveStale(query: Query, stale: CacheEntry): Answer {
    this.counters.stale++;
    query.fixedTtl = this.settings.serveStale.answerTtl;
    return stale.answer;
  }

  private refresh(query: Query, entry: CacheEntry): void {
    entry.refreshing = true;
    this.counters.prefetches++;
    const copy = query.clone();
    copy.channel = null;
    Promise.resolve()
      .then(() => this.next.resolve(copy))
      .then(
        (answer) => {
          entry.refreshing = false;
          this.store(copy, answer);
        },
        () => {
          // A failed refresh leaves the entry to expire normally; the next miss retries.
          entry.refreshing = false;
        },
      );
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
