import { DnsError } from '../pipeline/dns-error.js';
import { Stage } from '../pipeline/stage.js';
import type { Query } from '../pipeline/query.js';
import type { UpstreamFailures } from '../pipeline/upstream-failures.js';
import { Answer, AnswerKind } from '../wire/answer.js';
import { AnswerCache } from './answer-cache.js';
import type { CacheMemory } from './cache-memory.js';
import { Claim, FetchBoard } from './fetch-board.js';

/** Tags an answer the cache holds but this process has no tags for (another worker stored it). */
export type Retag = (query: Query, answer: Answer) => void;

export interface CacheSettings {
  minTtl: number;
  maxTtl: number;
  negativeMaxTtl: number;
  serveStale: {
    enabled: boolean;
    maxAgeSeconds: number;
    answerTtl: number;
    /** With a stale answer at hand, how long a client waits for the upstream before getting it (RFC 8767 §5). */
    clientTimeoutMs: number;
  };
  prefetch: { enabled: boolean; minHits: number; remainingRatio: number };
  /** The UDP size upstream answers' OPT records advertise (dns.udp_size), which the cache need not store. */
  udpSize: number;
  /** The longest a fetch takes (upstream.timeout_ms): a claim on the fetch board lapses after it. */
  fetchTimeoutMs: number;
}

/** Counters the metrics layer reads; plain numbers so the hot path only increments. */
export class CacheCounters {
  hits = 0;
  misses = 0;
  /** Stale answers served, of which some at once (the upstream failed recently) or after the client timeout. */
  stale = 0;
  staleAtOnce = 0;
  staleAfterClientTimeout = 0;
  prefetches = 0;
  /** Misses answered from the cache after another worker's fetch of the question, not fetched again. */
  awaited = 0;
}

/**
 * Serves fresh entries synchronously, sends misses down the chain and stores what comes
 * back. When everything below fails, a stale entry is served instead (RFC 8767), and popular
 * entries are refreshed shortly before they expire so their clients never wait. With a
 * stale entry at hand a client waits for the upstream at most the client timeout (the
 * upstream's answer still refreshes the entry when it comes), and not at all while the
 * upstream is known to be failing: then the stale entry is served at once and refreshed in
 * the background. Stale replies carry Extended DNS Error 3 (the reply writer adds it).
 */
export class CacheStage extends Stage {
  readonly name = 'cache';
  readonly cache: AnswerCache;
  readonly counters = new CacheCounters();
  /** Shared by the workers of a shared cache; a lone process coalesces in the stage below. */
  private readonly board: FetchBoard | null;

  constructor(
    private readonly settings: CacheSettings,
    /** Where the answers live: this process's memory, or memory every worker maps. */
    memory: CacheMemory,
    /** Whether the upstream failed just now; null: never known, always wait. */
    private readonly upstream: UpstreamFailures | null = null,
    /** Null where answers carry no tags (detection off). */
    private readonly retag: Retag | null = null,
    /** Tag objects every worker holds alike, which the cache keeps as a number all of them read (AnswerCache). */
    constantTags: readonly object[] = [],
  ) {
    super();
    this.cache = new AnswerCache(memory, {
      staleSeconds: settings.serveStale.enabled ? settings.serveStale.maxAgeSeconds : 0,
      constantTags,
      udpSize: settings.udpSize,
    });
    this.board = memory.shared ? new FetchBoard(memory, settings.fetchTimeoutMs) : null;
  }

  resolve(query: Query): Answer | Promise<Answer> {
    const now = Date.now();
    const cache = this.cache;
    if (!cache.find(query, now)) {
      this.counters.misses++;
      return this.fetch(query);
    }
    const found = cache.found;
    if (now < found.expiresAt) {
      this.counters.hits++;
      query.cacheAge = Math.floor((now - found.storedAt) / 1000);
      const prefetch = this.settings.prefetch;
      if (
        prefetch.enabled &&
        found.hits >= prefetch.minHits &&
        !found.refreshing &&
        found.expiresAt - now < found.lifetimeMs * prefetch.remainingRatio &&
        cache.claimRefresh(query)
      ) {
        this.counters.prefetches++;
        this.refresh(query);
      }
      return this.tagged(query, found.answer);
    }
    this.counters.misses++;
    if (now >= found.staleUntil) return this.fetch(query);
    const stale = this.tagged(query, found.answer);
    if (this.upstream?.failedRecently(now)) {
      if (!found.refreshing && cache.claimRefresh(query)) this.refresh(query);
      this.counters.staleAtOnce++;
      return this.serveStale(query, stale);
    }
    // Held across the upstream round trip, so an answer of its own rather than the cache's view.
    return this.fetchOrStale(query, cache.copy());
  }

  /** The found answer with this process's tags for it, computed once here when another worker stored it. */
  private tagged(query: Query, answer: Answer): Answer {
    if (answer.tags === null && this.retag !== null && answer.kind !== AnswerKind.SYNTHETIC) {
      this.retag(query, answer);
      this.cache.keepTags(answer.tags);
    }
    return answer;
  }

  /**
   * The answer from below, stored. When another worker is fetching the same question, its
   * fetch is waited for and its answer read from the cache; only if that brings nothing
   * (an uncacheable answer, a failure) is the question fetched here too.
   */
  private async fetch(query: Query): Promise<Answer> {
    const board = this.board;
    let claim: Claim = Claim.UNAVAILABLE;
    if (board !== null) {
      claim = board.claim(query.key, Date.now());
      if (claim === Claim.HELD_ELSEWHERE) {
        await board.settled(query.key);
        const awaited = this.fetchedElsewhere(query);
        if (awaited !== null) return awaited;
        // Waited once: from here on the question is fetched, claimed or not.
        claim = board.claim(query.key, Date.now());
      }
    }
    try {
      const answer = await this.next.resolve(query);
      this.store(query, answer);
      return answer;
    } finally {
      if (claim === Claim.TAKEN) board!.release(query.key);
    }
  }

  /** The fresh answer another worker's fetch left in the cache, as an answer of its own (held past this turn), or null. */
  private fetchedElsewhere(query: Query): Answer | null {
    const now = Date.now();
    const cache = this.cache;
    if (!cache.find(query, now) || now >= cache.found.expiresAt) return null;
    this.counters.awaited++;
    query.cacheAge = Math.floor((now - cache.found.storedAt) / 1000);
    this.tagged(query, cache.found.answer);
    return cache.copy();
  }

  /** The upstream's answer, or `stale` if it fails, answers SERVFAIL/REFUSED, or takes longer than the client timeout. */
  private fetchOrStale(query: Query, stale: Answer): Promise<Answer> {
    return new Promise((resolve, reject) => {
      let answered = false;
      const timer = setTimeout(() => {
        answered = true;
        this.counters.staleAfterClientTimeout++;
        resolve(this.serveStale(query, stale));
      }, this.settings.serveStale.clientTimeoutMs);
      // fetch() stores the answer, also when the client has had the stale one meanwhile.
      const settle = (answer: Answer | null): void => {
        const usable = answer !== null && answer.kind !== AnswerKind.UNCACHEABLE;
        if (answered) return;
        answered = true;
        clearTimeout(timer);
        resolve(usable ? answer : this.serveStale(query, stale));
      };
      this.fetch(query).then(settle, (error: unknown) => {
        // Only a DNS error (no upstream answered) stands for a failing upstream; anything
        // else is a bug below, which must reach the responder's log, not hide behind stale data.
        if (error instanceof DnsError) return settle(null);
        if (answered) return;
        answered = true;
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  private serveStale(query: Query, stale: Answer): Answer {
    this.counters.stale++;
    query.fixedTtl = this.settings.serveStale.answerTtl;
    return stale;
  }

  /** Asks the upstream again for a cached entry marked refreshing, without a client waiting. */
  private refresh(query: Query): void {
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
    this.cache.endRefresh(copy);
  }

  private store(query: Query, answer: Answer): void {
    const ttl = this.cacheTtl(answer);
    if (ttl <= 0) return;
    this.cache.set(query, answer, Date.now(), ttl);
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
