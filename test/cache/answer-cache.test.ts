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

/** The UDP size the answers here advertise, as dns.udp_size does for the server's. */
const UDP_SIZE = 1232;

function newCache(entries: number, bytes = 64 * 1024 * 1024): AnswerCache {
  return new AnswerCache(localMemory(cacheLayout(entries, bytes)), { udpSize: UDP_SIZE });
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
    const cache = new AnswerCache(localMemory(cacheLayout(10, 64 * 1024 * 1024)), { staleSeconds: 30, udpSize: UDP_SIZE });
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

  it('evicts an entry no hit found since the hand last passed, before one a hit found', () => {
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

  it('agrees with a reference CLOCK over 20,000 random operations, and its storage stops growing', () => {
    const capacity = 300;
    const cache = newCache(capacity);
    const requests = Array.from({ length: 1000 }, (_, i) => request(`host-${i}.example.nl`));
    // Two answers of different sizes (so of different chunk classes) per name, encoded once.
    const answers = requests.map((req, i) => [answerFor(req, 1 + (i % 6)), answerFor(req, 7 + (i % 6))] as const);
    // The model: slots handed out in order, freed ones reused last-freed first; the hand
    // takes the first held slot without a hit since it last passed, clearing the others.
    const slots: (number | null)[] = [];
    const marked: boolean[] = [];
    const free: number[] = [];
    const slotOf = new Map<number, number>();
    const wire = new Map<number, Buffer>();
    let hand = 0;
    const victim = (): number => {
      for (;;) {
        if (hand >= slots.length) hand = 0;
        const slot = hand++;
        if (slots[slot] === null) continue;
        if (!marked[slot]) return slot;
        marked[slot] = false;
      }
    };
    let seed = 12345;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    let reserved = 0;
    let evictions = 0;
    for (let step = 0; step < 20_000; step++) {
      const which = random(requests.length);
      const req = requests[which]!;
      if (random(3) === 0) {
        const answer = answers[which]![random(2)]!;
        cache.set(req, answer, 0, 60);
        const held = slotOf.get(which);
        if (held !== undefined) {
          slots[held] = null;
          free.push(held);
          slotOf.delete(which);
        }
        let slot: number;
        if (slotOf.size < capacity) slot = free.pop() ?? slots.length;
        else {
          slot = victim();
          slotOf.delete(slots[slot]!);
          evictions++;
        }
        slots[slot] = which;
        marked[slot] = false;
        slotOf.set(which, slot);
        wire.set(which, answer.wire);
      } else {
        const slot = slotOf.get(which);
        if (slot !== undefined) marked[slot] = true;
        expect(stored(cache, req)).toEqual(slot === undefined ? null : wire.get(which));
      }
      if (step === 10_000) reserved = cache.answerBytes;
    }
    expect(cache.size).toBe(slotOf.size);
    expect(cache.evictions.forEntries).toBe(evictions);
    expect(evictions).toBeGreaterThan(1000);
    // Freed chunks are reused: the second half of the churn reserved no new page.
    expect(cache.answerBytes).toBe(reserved);
  }, 30_000);

  it('keeps its answers within maxBytes, the first stored going first when none was asked for again', () => {
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
    // Each stored answer gets a turn of the hand; here it went round more than once, past
    // some of the first 2 kB answers, as it did past every small one not asked for again.
    expect(large.filter((req) => holds(cache, req)).length).toBeGreaterThan(500);
    expect(large.slice(-100).every((req) => holds(cache, req))).toBe(true);
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
    // udpSize 0: every OPT record is stored, so an answer takes all of its 86 bytes.
    const cache = new AnswerCache(localMemory(cacheLayout(1000, 64 * 1024 * 1024)));
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

  it('keeps a plain OPT record out of the chunk and writes it back byte for byte, DO bit included', () => {
    const cache = newCache(1000);
    const names = Array.from({ length: 820 }, (_, i) => `n${String(i).padStart(4, '0')}.abcdefghijklmnopqrstuv.example.nl`);
    const answers = names.map((name) => quickAnswerFor(request(name), 1));
    // The same answers with the DO bit in their OPT record, for questions with DO.
    const withDo = names.map((name) => {
      const req = new WireRequest();
      readRequest(encodeQuery(name, TYPE.A, { edns: { udp: 1232, do: true } }), req);
      const answer = quickAnswerFor(req, 1);
      answer.bytes[answer.optOffset + 7] = 0x80;
      return [req, answer] as const;
    });
    for (let i = 0; i < 819; i++) cache.set(request(names[i]!), answers[i]!, 0, 60);
    // 86 bytes less the 11 of the OPT record: 80-byte chunks, 819 to a 64 KiB page.
    expect(cache.answerBytes).toBe(65_536);
    cache.set(request(names[819]!), answers[819]!, 0, 60);
    expect(cache.answerBytes).toBe(2 * 65_536);
    for (const [i, answer] of answers.entries()) {
      expect(cache.find(request(names[i]!), 0)).toBe(true);
      const view = cache.found.answer;
      expect([view.wire, view.optOffset, view.ttlAt(0), view.ttlOffsetAt(0), view.rcode, view.kind]).toEqual([answer.wire, answer.optOffset, 300, answer.ttlOffsetAt(0), 0, AnswerKind.POSITIVE]);
    }
    for (const [req, answer] of withDo.slice(0, 10)) {
      cache.set(req, answer, 0, 60);
      expect(cache.find(req, 0)).toBe(true);
      expect(cache.found.answer.wire).toEqual(answer.wire);
      // Without DO the question is another entry, still the one without the bit.
      expect(stored(cache, request(req.qname()))!.readUInt16BE(answer.optOffset + 7)).toBe(0);
    }
  });

  it('stores an OPT record that is not plain as it came: another UDP size, an Extended DNS Error, an extended rcode', () => {
    const cache = newCache(10);
    const req = request('odd.example.nl');
    const records = [{ name: 'odd.example.nl', type: TYPE.A, ttl: 300, address: '192.0.2.1' }];
    const msg = encodeResponse(7, 'odd.example.nl', TYPE.A, records, { edns: true });
    const odd = [
      scanResponse(msg, 7, req.question, req.questionLength, 4096).answer!,
      // Extended DNS Error 17 (Filtered) in the OPT record, which is last: its RDATA length, then the option.
      scanResponse(Buffer.concat([msg.subarray(0, msg.length - 2), Buffer.from([0, 6, 0, 15, 0, 2, 0, 17])]), 7, req.question, req.questionLength, 1232).answer!,
    ];
    const badvers = Buffer.from(msg);
    badvers[badvers.length - 6] = 1; // extended rcode 1: BADVERS with the header's NOERROR
    odd.push(scanResponse(badvers, 7, req.question, req.questionLength, 1232).answer!);
    for (const answer of odd) {
      cache.set(req, answer, 0, 60);
      expect(cache.find(req, 0)).toBe(true);
      expect([cache.found.answer.wire, cache.found.answer.rcode, cache.found.answer.kind]).toEqual([answer.wire, answer.rcode, answer.kind]);
    }
    expect(odd.map((answer) => answer.rcode)).toEqual([0, 0, 16]);
  });

  it('keeps questions with and without DO or CD apart even where their keys share the 32 bits kept', () => {
    const cache = newCache(10);
    const plain = request('www.example.nl');
    const flagged = [{ do: true, cd: 0 }, { do: false, cd: 1 }].map((flags) => {
      const req = new WireRequest();
      readRequest(encodeQuery('www.example.nl', TYPE.A, { edns: { udp: 1232, do: flags.do }, flags: { rd: 1, cd: flags.cd } }), req);
      req.key = plain.key + 2 ** 40; // other key bits differ only above the 32 kept
      return req;
    });
    cache.set(plain, answerFor(plain, 1), 0, 60);
    for (const req of flagged) expect(holds(cache, req)).toBe(false);
    for (const [i, req] of flagged.entries()) cache.set(req, answerFor(req, 2 + i), 0, 60);
    expect([plain, ...flagged].map((req) => (cache.find(req, 0) ? cache.found.answer.ttlCount : 0))).toEqual([1, 2, 3]);
  });

  it('keeps store times in sixteenths of a second, rounded down, and starts afresh when they would overflow', () => {
    const cache = newCache(10);
    const req = request('www.example.nl');
    const start = Date.parse('2030-01-01T00:00:00Z');
    const first = request('first.example.nl');
    cache.set(first, answerFor(first), start, 60); // the first store sets where the ticks count from
    cache.set(req, answerFor(req), start + 1010, 60);
    cache.find(req, start + 2000);
    expect(cache.found.storedAt).toBe(start + 1000);
    expect(cache.found.expiresAt).toBe(start + 61_000);
    // 8.5 years on the ticks run out: the cache is emptied and counts from the new store.
    const later = start + 2 ** 32 * 62.5;
    const other = request('other.example.nl');
    cache.set(other, answerFor(other), later, 60);
    expect(holds(cache, req)).toBe(false);
    cache.find(other, later);
    expect(cache.found.storedAt).toBe(later);
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

    it("spares an entry another worker's hit found when evicting", () => {
      const [one, two] = pair(2);
      const [first, second, third] = ['first.nl', 'second.nl', 'third.nl'].map((name) => request(name));
      one.set(first!, answerFor(first!), 0, 60);
      one.set(second!, answerFor(second!), 0, 60);
      expect(holds(two, first!)).toBe(true);
      one.set(third!, answerFor(third!), 0, 60);
      expect([first, second, third].map((req) => holds(one, req!))).toEqual([true, false, true]);
    });

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
