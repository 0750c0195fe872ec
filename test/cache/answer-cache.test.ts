import { describe, expect, it } from 'vitest';
import { AnswerCache } from '../../src/cache/answer-cache.js';
import { cacheLayout, localMemory } from '../../src/cache/cache-memory.js';
import { Answer, AnswerKind, scanResponse } from '../../src/wire/answer.js';
import { WireRequest, readRequest } from '../../src/wire/request.js';
import { encodeQuery, encodeResponse, TYPE } from '../support/packets.js';

function request(name: string, type: number = TYPE.A): WireRequest {
  const req = new WireRequest();
  readRequest(encodeQuery(name, type, { edns: { udp: 1232 } }), req);
  return req;
}

/** A scanned upstream answer for `req`'s question with `count` A records (upstream spelling `spelled`). */
function answerFor(req: WireRequest, count = 1, spelled = req.qname()): Answer {
  const name = req.qname();
  const records = Array.from({ length: count }, (_, i) => ({ name, type: TYPE.A, ttl: 300 + i, address: `192.0.2.${i & 255}` }));
  const msg = encodeResponse(7, spelled, TYPE.A, records, { edns: true });
  const answer = scanResponse(msg, 7, req.question, req.questionLength, 1232).answer!;
  answer.tags = { name };
  return answer;
}

/**
 * The same as answerFor with `count` A records, encoded here (dns2 takes a while for big
 * answers, and these tests make thousands): header, the question, records pointing at it, OPT.
 */
function quickAnswerFor(req: WireRequest, count: number): Answer {
  const records = Buffer.alloc(count * 16);
  for (let i = 0; i < count; i++) {
    records.writeUInt16BE(0xc00c, i * 16);
    records.writeUInt16BE(TYPE.A, i * 16 + 2);
    records.writeUInt16BE(1, i * 16 + 4);
    records.writeUInt32BE(300, i * 16 + 6);
    records.writeUInt16BE(4, i * 16 + 10);
    records.writeUInt32BE(0xc0000200 + (i & 255), i * 16 + 12);
  }
  const header = Buffer.from([0, 7, 0x81, 0x80, 0, 1, count >> 8, count & 255, 0, 0, 0, 1]);
  const opt = Buffer.from([0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
  const msg = Buffer.concat([header, req.question.subarray(0, req.questionLength), records, opt]);
  return scanResponse(msg, 7, req.question, req.questionLength, 1232).answer!;
}

function newCache(entries: number, bytes = 64 * 1024 * 1024): AnswerCache {
  return new AnswerCache(localMemory(cacheLayout(entries, bytes)));
}

function stored(cache: AnswerCache, req: WireRequest): Buffer | null {
  return cache.find(req, 0) ? Buffer.from(cache.found.answer.wire) : null;
}

/** Whether the cache holds `req`'s question. */
function holds(cache: AnswerCache, req: WireRequest): boolean {
  return cache.find(req, 0);
}

describe('AnswerCache', () => {
  it('serves the stored answer byte for byte, with its TTL table, tags and kind', () => {
    const cache = new AnswerCache(localMemory(cacheLayout(10, 64 * 1024 * 1024)), { staleSeconds: 30 });
    const req = request('www.example.nl');
    const answer = answerFor(req, 3);
    cache.set(req, answer, 1000, 60);
    expect(cache.find(request('www.example.nl'), 1000)).toBe(true);
    const view = cache.found.answer;
    expect(view.wire).toEqual(answer.wire);
    expect(view.kind).toBe(AnswerKind.POSITIVE);
    expect(view.optOffset).toBe(answer.optOffset);
    expect(view.ttlCount).toBe(3);
    expect([0, 1, 2].map((i) => [view.ttlAt(i), view.ttlOffsetAt(i)])).toEqual([0, 1, 2].map((i) => [answer.ttlAt(i), answer.ttlOffsetAt(i)]));
    expect(view.tags).toBe(answer.tags);
    expect(cache.found.storedAt).toBe(1000);
    expect(cache.found.expiresAt).toBe(61_000);
    expect(cache.found.staleUntil).toBe(91_000);
    expect(cache.found.hits).toBe(1);
  });

  it('finds an entry by a differently cased question, whatever case the upstream echoed', () => {
    const cache = newCache(10);
    const req = request('Example.NL');
    cache.set(req, answerFor(req, 1, 'eXaMpLe.nl'), 1000, 60);
    expect(holds(cache, request('example.nl'))).toBe(true);
  });

  it('never returns an entry whose stored question differs, even under the same hash key', () => {
    const cache = newCache(10);
    const first = request('a.example.nl');
    cache.set(first, answerFor(first), 0, 60);
    const other = request('b.example.nl');
    other.key = first.key; // force a collision
    expect(holds(cache, other)).toBe(false);
    // Both live side by side under the one key.
    cache.set(other, answerFor(other), 0, 60);
    expect(first.qname()).toBe('a.example.nl');
    expect(stored(cache, first)!.includes(Buffer.from('\x01a\x07example'))).toBe(true);
    expect(stored(cache, other)!.includes(Buffer.from('\x01b\x07example'))).toBe(true);
    expect(cache.size).toBe(2);
  });

  it('evicts the least recently used entry at capacity', () => {
    const cache = newCache(2);
    const [one, two, three] = ['one.nl', 'two.nl', 'three.nl'].map((name) => request(name));
    cache.set(one!, answerFor(one!), 0, 60);
    cache.set(two!, answerFor(two!), 0, 60);
    holds(cache, one!);
    cache.set(three!, answerFor(three!), 0, 60);
    expect(holds(cache, two!)).toBe(false);
    expect(holds(cache, one!)).toBe(true);
    expect(cache.size).toBe(2);
  });

  it('replaces an entry in place and resets its hits and refresh mark', () => {
    const cache = newCache(4);
    const req = request('www.example.nl');
    cache.set(req, answerFor(req, 1), 0, 60);
    expect(cache.find(req, 1000)).toBe(true);
    expect(cache.found.hits).toBe(1);
    expect(cache.claimRefresh(req)).toBe(true);
    expect(cache.claimRefresh(req)).toBe(false); // someone refreshes it already
    cache.set(req, answerFor(req, 5), 5000, 120);
    expect(cache.find(req, 6000)).toBe(true);
    expect(cache.found.answer.ttlCount).toBe(5);
    expect(cache.found.refreshing).toBe(false);
    expect(cache.found.hits).toBe(1);
    expect(cache.found.expiresAt).toBe(125_000);
    expect(cache.size).toBe(1);
  });

  it('keeps a copy that outlives the entry, while the shared view follows the next call', () => {
    const cache = newCache(1);
    const first = request('first.nl');
    const second = request('second.nl');
    cache.set(first, answerFor(first), 0, 60);
    cache.find(first, 0);
    const copy = cache.copy();
    const expected = Buffer.from(copy.wire);
    cache.set(second, answerFor(second, 4), 0, 60); // evicts first, reuses its chunk class
    expect(holds(cache, first)).toBe(false);
    expect(copy.wire).toEqual(expected);
    expect(copy.ttlAt(0)).toBe(300);
    expect(copy.tags).toEqual({ name: 'first.nl' });
  });

  it('stores answers up to a page (64 KiB with their TTL table), and none bigger', () => {
    const cache = newCache(4);
    const big = request('big.example.nl');
    const answer = quickAnswerFor(big, 1200); // 1200 A records: about 22 KB with its TTL table
    expect(answer.storedLength).toBeGreaterThan(16_384);
    cache.set(big, answer, 0, 60);
    expect(cache.find(big, 0)).toBe(true);
    const view = cache.found.answer;
    expect(view.wire).toEqual(answer.wire);
    expect(view.ttlAt(1199)).toBe(answer.ttlAt(1199));
    // Replaced by a small answer, it moves to a small chunk.
    cache.set(big, answerFor(big, 1), 0, 60);
    expect(cache.find(big, 0)).toBe(true);
    expect(cache.found.answer.ttlCount).toBe(1);
    const huge = request('huge.example.nl');
    const hugeAnswer = quickAnswerFor(huge, 3700); // about 67 KB with its TTL table
    expect(hugeAnswer.storedLength).toBeGreaterThan(65_536);
    cache.set(huge, hugeAnswer, 0, 60);
    expect(holds(cache, huge)).toBe(false);
    expect(holds(cache, big)).toBe(true);
  });

  it('agrees with a reference LRU over 20,000 random operations, and its storage stops growing', () => {
    const capacity = 300;
    const cache = newCache(capacity);
    const reference = new Map<string, Buffer>();
    const requests = Array.from({ length: 1000 }, (_, i) => request(`host-${i}.example.nl`));
    // Two answers of different sizes (so of different chunk classes) per name, encoded once.
    const answers = requests.map((req, i) => [answerFor(req, 1 + (i % 6)), answerFor(req, 7 + (i % 6))] as const);
    let seed = 12345;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    let reserved = 0;
    for (let step = 0; step < 20_000; step++) {
      const which = random(requests.length);
      const req = requests[which]!;
      const name = req.qname();
      if (random(3) === 0) {
        const answer = answers[which]![random(2)]!;
        cache.set(req, answer, 0, 60);
        reference.delete(name);
        reference.set(name, answer.wire);
        if (reference.size > capacity) reference.delete(reference.keys().next().value!);
      } else {
        const expected = reference.get(name) ?? null;
        if (expected !== null) {
          reference.delete(name);
          reference.set(name, expected);
        }
        expect(stored(cache, req)).toEqual(expected);
      }
      if (step === 10_000) reserved = cache.answerBytes;
    }
    expect(cache.size).toBe(reference.size);
    // Freed chunks are reused: the second half of the churn reserved no new page.
    expect(cache.answerBytes).toBe(reserved);
  }, 30_000);

  it('keeps its answers within maxBytes, the least recently used going first', () => {
    const limit = 1024 * 1024;
    const cache = newCache(100_000, limit);
    const requests = Array.from({ length: 1000 }, (_, i) => request(`four-k-${i}.example.nl`));
    for (const req of requests) {
      cache.set(req, quickAnswerFor(req, 200), 0, 60); // 200 A records: about 4.4 kB stored
      expect(cache.answerBytes).toBeLessThanOrEqual(limit);
    }
    const stored = quickAnswerFor(requests[0]!, 200).storedLength;
    expect(cache.size).toBeGreaterThan((0.8 * limit) / stored);
    expect(holds(cache, requests[0]!)).toBe(false);
    expect(holds(cache, requests[999]!)).toBe(true);
    expect(cache.evictions.forBytes).toBe(1000 - cache.size);
    expect(cache.evictions.forEntries).toBe(0);
  });

  it('hands back the pages of answers that are gone, so answers of another size get the room', () => {
    const limit = 2 * 1024 * 1024;
    const cache = newCache(100_000, limit);
    const small = Array.from({ length: 30_000 }, (_, i) => request(`small-${i}.example.nl`));
    for (const req of small) cache.set(req, quickAnswerFor(req, 1), 0, 60);
    expect(cache.answerBytes).toBeLessThanOrEqual(limit);
    // Every other small answer is asked for again, so the ones evicted next leave every page
    // half used; then 2 kB answers need pages of their own class.
    for (let i = 0; i < small.length; i += 2) holds(cache, small[i]!);
    const large = Array.from({ length: 600 }, (_, i) => request(`large-${i}.example.nl`));
    for (const req of large) {
      cache.set(req, quickAnswerFor(req, 100), 0, 60);
      expect(cache.answerBytes).toBeLessThanOrEqual(limit);
    }
    expect(cache.evictions.compactions).toBeGreaterThan(0);
    expect(large.every((req) => holds(cache, req))).toBe(true);
    // Moving the survivors together kept half of the small answers that still fit (about
    // 8,000 of 80 bytes in the pages the 2 kB ones left); eviction alone would have emptied
    // pages only by evicting nearly all of them.
    const smallHeld = small.filter((req) => holds(cache, req)).length;
    expect(smallHeld).toBeGreaterThan(4000);
  });

  it('moves answers between pages without changing a byte, under churn within a byte limit', () => {
    const limit = 1024 * 1024;
    const cache = newCache(100_000, limit);
    const requests = Array.from({ length: 6000 }, (_, i) => request(`churn-${i}.example.nl`));
    const last = new Map<number, Buffer>();
    let seed = 99;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 16) % n;
    };
    let most = 0;
    for (let step = 0; step < 30_000; step++) {
      const which = random(requests.length);
      const req = requests[which]!;
      // Small answers first, larger ones later: the small ones' pages must be given up.
      if (random(2) === 0) {
        const answer = quickAnswerFor(req, step < 12_000 ? 1 + random(3) : 20 + random(60));
        cache.set(req, answer, 0, 60);
        last.set(which, Buffer.from(answer.wire));
      } else {
        const found = stored(cache, req);
        if (found !== null) expect(found).toEqual(last.get(which));
      }
      most = Math.max(most, cache.answerBytes);
    }
    expect(most).toBeLessThanOrEqual(limit);
    expect(cache.evictions.compactions).toBeGreaterThan(0);
  }, 60_000);

  it('cuts pages in 8-byte steps for small answers: 744 answers of 86 bytes fill one page', () => {
    const cache = newCache(1000);
    const names = Array.from({ length: 744 }, (_, i) => `n${String(i).padStart(4, '0')}.abcdefghijklmnopqrstuv.example.nl`);
    for (const name of names) {
      const req = request(name);
      const answer = quickAnswerFor(req, 1);
      expect(answer.storedLength).toBe(86);
      cache.set(req, answer, 0, 60);
    }
    // 88-byte chunks: 744 to a 64 KiB page (96-byte ones would need a second page).
    expect(cache.size).toBe(744);
    expect(cache.answerBytes).toBe(65_536);
    expect(stored(cache, request(names[743]!))).not.toBeNull();
  });

  it('counts hits up to 65,535 and stays there', () => {
    const cache = newCache(10);
    const req = request('popular.example.nl');
    cache.set(req, answerFor(req), 0, 60);
    for (let i = 0; i < 70_000; i++) cache.find(req, 0);
    expect(cache.found.hits).toBe(65_536);
  });

  it('forgets everything on clear and stays usable', () => {
    const cache = newCache(10);
    const req = request('www.example.nl');
    cache.set(req, answerFor(req), 0, 60);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(holds(cache, req)).toBe(false);
    cache.set(req, answerFor(req), 0, 60);
    expect(holds(cache, req)).toBe(true);
  });

  it('stores nothing with a limit of 0 entries, nor answers without a message', () => {
    const none = newCache(0);
    const req = request('www.example.nl');
    none.set(req, answerFor(req), 0, 60);
    expect(holds(none, req)).toBe(false);
    const cache = newCache(10);
    cache.set(req, Answer.synthetic(2), 0, 60);
    expect(holds(cache, req)).toBe(false);
  });

  describe('tags, with two caches on one memory as two workers', () => {
    const CONSTANT = { constant: true };
    const pair = (entries = 4): [AnswerCache, AnswerCache] => {
      const memory = localMemory(cacheLayout(entries, 1024 * 1024));
      return [new AnswerCache(memory, { constantTags: [{ other: true }, CONSTANT] }), new AnswerCache(memory, { constantTags: [{ other: true }, CONSTANT] })];
    };
    const tagsFound = (cache: AnswerCache, req: WireRequest): object | null => (cache.find(req, 0) ? cache.found.answer.tags : null);

    it('hands a constant tag set to every worker', () => {
      const [one, two] = pair();
      const req = request('cdn.example.nl');
      const answer = answerFor(req);
      answer.tags = CONSTANT;
      one.set(req, answer, 0, 60);
      expect(tagsFound(one, req)).toBe(CONSTANT);
      expect(tagsFound(two, req)).toBe(CONSTANT);
    });

    it('keeps other tags in the worker that stored or was handed them, for that store only', () => {
      const [one, two] = pair(1);
      const req = request('app.example.nl');
      const answer = answerFor(req);
      one.set(req, answer, 0, 60);
      expect(tagsFound(one, req)).toBe(answer.tags);
      expect(tagsFound(two, req)).toBeNull();
      const retagged = { retagged: true };
      two.keepTags(retagged);
      expect(tagsFound(two, req)).toBe(retagged);
      // The other worker's store takes the only slot: neither worker's old tags belong to it.
      const next = request('next.example.nl');
      two.set(next, answerFor(next), 0, 60);
      expect(holds(one, req)).toBe(false);
      const stranger = answerFor(next);
      stranger.tags = null;
      one.set(next, stranger, 0, 60);
      expect(tagsFound(one, next)).toBeNull();
      expect(tagsFound(two, next)).toBeNull();
    });
  });
});
