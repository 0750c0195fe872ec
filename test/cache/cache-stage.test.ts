import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CacheStage, type CacheSettings } from '../../src/cache/cache-stage.js';
import { cacheLayout, CacheMemory, localMemory, partLengths } from '../../src/cache/cache-memory.js';
import type { Query } from '../../src/pipeline/query.js';
import type { Answer } from '../../src/wire/answer.js';
import { UpstreamFailure } from '../../src/upstream/errors.js';
import { TYPE, type ResponseRecord } from '../support/packets.js';
import {
  addressAnswer,
  deferred,
  flush,
  makeQuery,
  resolveNow,
  served,
  StubStage,
  upstreamAnswer,
  withNext,
  type Deferred,
  type QuerySpec,
  type UpstreamReply,
} from '../support/stages.js';

const SETTINGS: CacheSettings = {
  minTtl: 0,
  maxTtl: 86_400,
  negativeMaxTtl: 3600,
  serveStale: { enabled: true, maxAgeSeconds: 3600, answerTtl: 30, clientTimeoutMs: 60_000 },
  prefetch: { enabled: false, minHits: 2, remainingRatio: 0.1 },
  // As the stub upstream's answers advertise, so their OPT records are written back, not stored.
  udpSize: 1232,
  fetchTimeoutMs: 2000,
};

/** The stage reads the clock through Date.now() only: faking Date alone leaves Promises and sockets alone. */
const T0 = Date.parse('2030-01-01T00:00:00Z');
const at = (seconds: number): void => {
  vi.setSystemTime(T0 + seconds * 1000);
};

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  at(0);
});
afterEach(() => {
  vi.useRealTimers();
});

function cacheStage(settings: Partial<CacheSettings> = {}): { stage: CacheStage; next: StubStage } {
  const next = new StubStage((query) => addressAnswer(query, query.qtype === TYPE.AAAA ? '2001:db8::1' : '192.0.2.1', 300));
  return { stage: withNext(new CacheStage({ ...SETTINGS, ...settings }, localMemory(cacheLayout(100, 64 * 1024 * 1024))), next), next };
}

/** Resolves through the stage whether it answers synchronously or not. */
async function ask(stage: CacheStage, spec: QuerySpec | string): Promise<{ query: Query; reply: ReturnType<typeof served> }> {
  const query = makeQuery(spec);
  return { query, reply: served(query, await stage.resolve(query)) };
}

describe('CacheStage hits and misses', () => {
  it('sends a miss down once, then answers synchronously without asking next', async () => {
    const { stage, next } = cacheStage();
    next.mode = 'async';
    const first = makeQuery('www.example.nl');
    const miss = stage.resolve(first);
    expect(miss).toBeInstanceOf(Promise);
    expect(served(first, await miss).data).toEqual(['192.0.2.1']);
    expect(first.cacheAge).toBe(-1);
    const second = makeQuery('www.example.nl');
    const hit = resolveNow(stage, second);
    expect(served(second, hit)).toEqual({ rcode: 0, data: ['192.0.2.1'], ttls: [300], soa: false });
    expect(second.cacheAge).toBe(0);
    expect(next.calls).toBe(1);
    expect(stage.counters).toMatchObject({ hits: 1, misses: 1, stale: 0, prefetches: 0 });
  });

  it.each<{ name: string; spec: QuerySpec; expect: { hit: boolean } }>([
    { name: 'the same question', spec: { name: 'www.example.nl' }, expect: { hit: true } },
    { name: 'another spelling of the name', spec: { name: 'WWW.Example.NL' }, expect: { hit: true } },
    { name: 'another client', spec: { name: 'www.example.nl', client: '10.9.9.9' }, expect: { hit: true } },
    { name: 'another type', spec: { name: 'www.example.nl', qtype: TYPE.AAAA }, expect: { hit: false } },
    { name: 'the DO bit', spec: { name: 'www.example.nl', dnssecOk: true }, expect: { hit: false } },
    { name: 'the CD bit', spec: { name: 'www.example.nl', checkingDisabled: true }, expect: { hit: false } },
    { name: 'DO and CD', spec: { name: 'www.example.nl', dnssecOk: true, checkingDisabled: true }, expect: { hit: false } },
  ])('after a plain A question, $name is a hit: $expect.hit', async ({ spec, expect: want }) => {
    const { stage, next } = cacheStage();
    await ask(stage, 'www.example.nl');
    await ask(stage, spec);
    expect(next.calls).toBe(want.hit ? 1 : 2);
    // Either way, each variant now has an entry of its own.
    await ask(stage, spec);
    await ask(stage, 'www.example.nl');
    expect(next.calls).toBe(want.hit ? 1 : 2);
  });
});

describe('CacheStage TTLs', () => {
  it('ages the TTLs it serves and expires the entry at its lowest TTL', async () => {
    const { stage, next } = cacheStage();
    next.reply = (query) =>
      upstreamAnswer(query, [
        { name: query.qname(), type: TYPE.A, ttl: 300, address: '192.0.2.1' },
        { name: query.qname(), type: TYPE.A, ttl: 120, address: '192.0.2.2' },
      ]);
    await ask(stage, 'www.example.nl');
    at(100.5);
    const aged = await ask(stage, 'www.example.nl');
    expect(aged.query.cacheAge).toBe(100);
    expect(aged.reply.ttls).toEqual([200, 20]);
    at(119.999);
    expect((await ask(stage, 'www.example.nl')).reply.ttls).toEqual([181, 1]);
    expect(next.calls).toBe(1);
    at(120);
    const refetched = await ask(stage, 'www.example.nl');
    expect(refetched.query.cacheAge).toBe(-1);
    expect(refetched.reply.ttls).toEqual([300, 120]);
    expect(next.calls).toBe(2);
  });

  type Row = { name: string; records?: 'address' | 'none'; ttl?: number; reply?: UpstreamReply; settings?: Partial<CacheSettings>; expect: { cachedFor: number } };
  const rows: Row[] = [
    { name: 'a positive answer, for its TTL', ttl: 300, expect: { cachedFor: 300 } },
    { name: 'a positive answer under min_ttl, for min_ttl', ttl: 5, settings: { minTtl: 60 }, expect: { cachedFor: 60 } },
    { name: 'a positive answer over max_ttl, for max_ttl', ttl: 3600, settings: { maxTtl: 100 }, expect: { cachedFor: 100 } },
    { name: 'a positive answer of TTL 0: not at all', ttl: 0, expect: { cachedFor: 0 } },
    { name: 'NXDOMAIN, for the SOA MINIMUM when lower than its TTL', records: 'none', reply: { rcode: 3, soa: { ttl: 300, minimum: 30 } }, expect: { cachedFor: 30 } },
    { name: 'NXDOMAIN, for the SOA TTL when lower than its MINIMUM', records: 'none', reply: { rcode: 3, soa: { ttl: 20, minimum: 3600 } }, expect: { cachedFor: 20 } },
    { name: 'NODATA, for min(SOA TTL, MINIMUM)', records: 'none', reply: { soa: { ttl: 300, minimum: 45 } }, expect: { cachedFor: 45 } },
    {
      name: 'NXDOMAIN, at most negative_max_ttl',
      records: 'none',
      reply: { rcode: 3, soa: { ttl: 7200, minimum: 7200 } },
      settings: { negativeMaxTtl: 600 },
      expect: { cachedFor: 600 },
    },
    { name: 'NXDOMAIN, raised to min_ttl', records: 'none', reply: { rcode: 3, soa: { ttl: 300, minimum: 5 } }, settings: { minTtl: 60 }, expect: { cachedFor: 60 } },
    { name: 'NXDOMAIN without a SOA: not at all, whatever min_ttl says', records: 'none', reply: { rcode: 3 }, settings: { minTtl: 60 }, expect: { cachedFor: 0 } },
    { name: 'NODATA without a SOA: not at all', records: 'none', reply: {}, expect: { cachedFor: 0 } },
    { name: 'NXDOMAIN with a SOA MINIMUM of 0: not at all', records: 'none', reply: { rcode: 3, soa: { ttl: 300, minimum: 0 } }, expect: { cachedFor: 0 } },
    { name: 'SERVFAIL: never', records: 'none', reply: { rcode: 2 }, settings: { minTtl: 60 }, expect: { cachedFor: 0 } },
    { name: 'REFUSED: never', records: 'none', reply: { rcode: 5 }, settings: { minTtl: 60 }, expect: { cachedFor: 0 } },
  ];

  it.each(rows)('caches $name', async ({ records = 'address', ttl = 300, reply = {}, settings = {}, expect: want }) => {
    const { stage, next } = cacheStage({ ...settings, serveStale: { ...SETTINGS.serveStale, enabled: false } });
    const answerRecords = (query: Query): ResponseRecord[] => (records === 'none' ? [] : [{ name: query.qname(), type: TYPE.A, ttl, address: '192.0.2.1' }]);
    next.reply = (query) => upstreamAnswer(query, answerRecords(query), reply);
    const first = await ask(stage, 'www.example.nl');
    expect(first.reply.rcode).toBe(reply.rcode ?? 0);
    if (want.cachedFor === 0) {
      await ask(stage, 'www.example.nl');
      expect(next.calls).toBe(2);
      return;
    }
    at(want.cachedFor - 0.001);
    const last = await ask(stage, 'www.example.nl');
    expect(last.reply.rcode).toBe(reply.rcode ?? 0);
    expect(next.calls).toBe(1);
    at(want.cachedFor);
    await ask(stage, 'www.example.nl');
    expect(next.calls).toBe(2);
  });
});

describe('CacheStage serving stale answers (RFC 8767)', () => {
  const failure = new UpstreamFailure('no upstream answered within 1500 ms');

  it.each([
    { how: 'throws', mode: 'sync' as const },
    { how: 'rejects', mode: 'async' as const },
  ])('serves the expired entry with answer_ttl when next $how an UpstreamFailure', async ({ mode }) => {
    const { stage, next } = cacheStage();
    next.reply = (query) => addressAnswer(query, '192.0.2.1', 60);
    await ask(stage, 'www.example.nl');
    at(61);
    next.reply = failure;
    next.mode = mode;
    const stale = await ask(stage, 'www.example.nl');
    expect(stale.reply).toEqual({ rcode: 0, data: ['192.0.2.1'], ttls: [30], soa: false });
    expect(stale.query.fixedTtl).toBe(30);
    expect(stage.counters.stale).toBe(1);
    expect(next.calls).toBe(2);
  });

  it('serves the expired entry when next answers SERVFAIL, and keeps the SERVFAIL out of the cache', async () => {
    const { stage, next } = cacheStage();
    next.reply = (query) => addressAnswer(query, '192.0.2.1', 60);
    await ask(stage, 'www.example.nl');
    at(61);
    next.reply = (query) => upstreamAnswer(query, [], { rcode: 2 });
    expect((await ask(stage, 'www.example.nl')).reply).toMatchObject({ rcode: 0, data: ['192.0.2.1'], ttls: [30] });
    expect((await ask(stage, 'www.example.nl')).reply.rcode).toBe(0);
    expect(next.calls).toBe(3);
  });

  it('serves stale only within max_age past expiry', async () => {
    const { stage, next } = cacheStage({ serveStale: { enabled: true, maxAgeSeconds: 600, answerTtl: 7, clientTimeoutMs: 60_000 } });
    next.reply = (query) => addressAnswer(query, '192.0.2.1', 60);
    await ask(stage, 'www.example.nl');
    next.reply = failure;
    at(60 + 600 - 0.001);
    expect((await ask(stage, 'www.example.nl')).reply.ttls).toEqual([7]);
    at(60 + 600);
    await expect(ask(stage, 'www.example.nl')).rejects.toBe(failure);
    expect(stage.counters.stale).toBe(1);
  });

  it('passes the failure on when serve-stale is off', async () => {
    const { stage, next } = cacheStage({ serveStale: { enabled: false, maxAgeSeconds: 3600, answerTtl: 30, clientTimeoutMs: 60_000 } });
    next.reply = (query) => addressAnswer(query, '192.0.2.1', 60);
    await ask(stage, 'www.example.nl');
    at(61);
    next.reply = failure;
    await expect(ask(stage, 'www.example.nl')).rejects.toBe(failure);
    next.reply = (query) => upstreamAnswer(query, [], { rcode: 2 });
    expect((await ask(stage, 'www.example.nl')).reply.rcode).toBe(2);
    expect(stage.counters.stale).toBe(0);
  });

  it('passes the failure on for a name it never had', async () => {
    const { stage, next } = cacheStage();
    next.reply = failure;
    await expect(ask(stage, 'www.example.nl')).rejects.toBe(failure);
  });

  it('replaces the stale entry once an upstream answers again', async () => {
    const { stage, next } = cacheStage();
    next.reply = (query) => addressAnswer(query, '192.0.2.1', 60);
    await ask(stage, 'www.example.nl');
    at(61);
    next.reply = failure;
    await ask(stage, 'www.example.nl');
    next.reply = (query) => addressAnswer(query, '192.0.2.2', 60);
    const fresh = await ask(stage, 'www.example.nl');
    expect(fresh.reply).toMatchObject({ data: ['192.0.2.2'], ttls: [60] });
    expect(fresh.query.fixedTtl).toBe(-1);
    at(62);
    expect((await ask(stage, 'www.example.nl')).reply).toMatchObject({ data: ['192.0.2.2'], ttls: [59] });
    expect(next.calls).toBe(3);
  });
});

describe('CacheStage prefetch', () => {
  const PREFETCH = { prefetch: { enabled: true, minHits: 2, remainingRatio: 0.1 } };

  /** Stores a 100 s answer at 0 and hits it once at 10 s; the next hit is the one that may prefetch. */
  async function warmed(settings: Partial<CacheSettings> = PREFETCH): Promise<{ stage: CacheStage; next: StubStage }> {
    const setup = cacheStage(settings);
    setup.next.reply = (query) => addressAnswer(query, '192.0.2.1', 100);
    await ask(setup.stage, 'www.example.nl');
    at(10);
    resolveNow(setup.stage, makeQuery('www.example.nl'));
    return setup;
  }

  it('refreshes a popular entry in the background once less than the ratio of its TTL remains', async () => {
    const { stage, next } = await warmed();
    const refresh = deferred<ReturnType<typeof addressAnswer>>();
    next.reply = refresh.promise;
    at(89);
    resolveNow(stage, makeQuery('www.example.nl'));
    at(91);
    const query = makeQuery('www.example.nl');
    // The client gets the cached answer now, synchronously; the refresh goes on behind it.
    expect(served(query, resolveNow(stage, query))).toMatchObject({ data: ['192.0.2.1'], ttls: [9] });
    await flush();
    expect(next.calls).toBe(2);
    expect(next.received[1]).not.toBe(query);
    expect(next.received[1]!.qname()).toBe('www.example.nl');
    expect(next.received[1]!.channel).toBeNull();
    // One refresh at a time.
    at(92);
    resolveNow(stage, makeQuery('www.example.nl'));
    await flush();
    expect(next.calls).toBe(2);
    refresh.resolve(addressAnswer(makeQuery('www.example.nl'), '192.0.2.2', 100));
    await flush();
    at(93);
    const after = makeQuery('www.example.nl');
    expect(served(after, resolveNow(stage, after))).toMatchObject({ data: ['192.0.2.2'], ttls: [99] });
    expect(after.cacheAge).toBe(1);
    expect(next.calls).toBe(2);
    expect(stage.counters.prefetches).toBe(1);
  });

  it.each([
    { name: 'prefetch is off', settings: { prefetch: { enabled: false, minHits: 2, remainingRatio: 0.1 } } },
    { name: 'the entry has fewer than min_hits', settings: { prefetch: { enabled: true, minHits: 3, remainingRatio: 0.1 } } },
    { name: 'more than the ratio remains', settings: { prefetch: { enabled: true, minHits: 2, remainingRatio: 0.05 } } },
  ])('does not refresh when $name', async ({ settings }) => {
    const { stage, next } = await warmed(settings);
    at(91);
    resolveNow(stage, makeQuery('www.example.nl'));
    await flush();
    expect(next.calls).toBe(1);
    expect(stage.counters.prefetches).toBe(0);
  });

  it.each([
    { outcome: 'fails', reply: new UpstreamFailure('no upstream answered') },
    { outcome: 'brings a SERVFAIL', reply: (query: Query) => upstreamAnswer(query, [], { rcode: 2 }) },
  ])('keeps serving the entry when the refresh $outcome, and tries again on the next hit', async ({ reply }) => {
    const { stage, next } = await warmed();
    next.reply = reply;
    next.mode = 'async';
    at(91);
    expect(served(makeQuery('www.example.nl'), resolveNow(stage, makeQuery('www.example.nl'))).data).toEqual(['192.0.2.1']);
    await flush();
    expect(next.calls).toBe(2);
    at(92);
    // The failed refresh cleared the entry's refreshing mark: this hit refreshes again.
    const query = makeQuery('www.example.nl');
    expect(served(query, resolveNow(stage, query))).toMatchObject({ data: ['192.0.2.1'], ttls: [8] });
    await flush();
    expect(next.calls).toBe(3);
    expect(stage.counters.prefetches).toBe(2);
  });
});

describe('CacheStage with a cache shared by two workers', () => {
  /** Two stages on one memory marked shared, as two workers' caches are, each with a stub upstream that answers when told. */
  function twoWorkers(settings: Partial<CacheSettings> = {}): Array<{ stage: CacheStage; next: StubStage; answer: Deferred<Answer> }> {
    const layout = cacheLayout(100, 64 * 1024 * 1024);
    const memory = new CacheMemory(layout, partLengths(layout).map((length) => new ArrayBuffer(length)), true, () => {});
    return [0, 1].map(() => {
      const answer = deferred<Answer>();
      const next = new StubStage(answer.promise);
      return { stage: withNext(new CacheStage({ ...SETTINGS, ...settings }, memory), next), next, answer };
    });
  }

  it("waits for the other worker's fetch of the same question and answers from the cache, without asking its own upstream", async () => {
    const [a, b] = twoWorkers();
    const first = ask(a!.stage, 'www.example.nl');
    const second = ask(b!.stage, 'www.example.nl');
    // Another question is not held up by the first.
    b!.next.reply = (query) => addressAnswer(query, '192.0.2.9', 300);
    expect((await ask(b!.stage, 'other.example.nl')).reply.data).toEqual(['192.0.2.9']);
    await flush();
    expect(a!.next.calls).toBe(1);
    expect(b!.next.received.map((query) => query.qname())).toEqual(['other.example.nl']);
    a!.answer.resolve(addressAnswer(makeQuery('www.example.nl'), '192.0.2.1', 300));
    expect((await first).reply.data).toEqual(['192.0.2.1']);
    expect((await second).reply).toMatchObject({ rcode: 0, data: ['192.0.2.1'], ttls: [300] });
    expect(b!.next.calls).toBe(1);
    expect(b!.stage.counters.awaited).toBe(1);
  });

  it('fetches the question itself when the other fetch leaves nothing in the cache (a SERVFAIL)', async () => {
    const [a, b] = twoWorkers();
    const first = ask(a!.stage, 'www.example.nl');
    const second = ask(b!.stage, 'www.example.nl');
    b!.answer.resolve(addressAnswer(makeQuery('www.example.nl'), '192.0.2.2', 300));
    await flush();
    expect(b!.next.calls).toBe(0);
    a!.answer.resolve(upstreamAnswer(makeQuery('www.example.nl'), [], { rcode: 2 }));
    expect((await first).reply.rcode).toBe(2);
    expect((await second).reply.data).toEqual(['192.0.2.2']);
    expect(b!.next.calls).toBe(1);
    expect(b!.stage.counters.awaited).toBe(0);
  });

  it('stops waiting once the claim of a worker that never answers lapses', async () => {
    const [a, b] = twoWorkers({ fetchTimeoutMs: 1000 });
    void ask(a!.stage, 'www.example.nl');
    const second = ask(b!.stage, 'www.example.nl');
    b!.answer.resolve(addressAnswer(makeQuery('www.example.nl'), '192.0.2.2', 300));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(b!.next.calls).toBe(0);
    // The claim holds for the fetch timeout, rounded up to the second.
    at(2.5);
    expect((await second).reply.data).toEqual(['192.0.2.2']);
    expect(b!.next.calls).toBe(1);
  });

  it("waits for the other worker's fetch of an expired entry too, with the stale answer at hand", async () => {
    const [a, b] = twoWorkers();
    a!.next.reply = (query) => addressAnswer(query, '192.0.2.1', 60);
    await ask(a!.stage, 'www.example.nl');
    at(61);
    const refetch = deferred<Answer>();
    a!.next.reply = refetch.promise;
    const first = ask(a!.stage, 'www.example.nl');
    const second = ask(b!.stage, 'www.example.nl');
    b!.answer.resolve(addressAnswer(makeQuery('www.example.nl'), '192.0.2.4', 60));
    await flush();
    refetch.resolve(addressAnswer(makeQuery('www.example.nl'), '192.0.2.3', 60));
    expect((await first).reply.data).toEqual(['192.0.2.3']);
    expect((await second).reply).toMatchObject({ data: ['192.0.2.3'], ttls: [60] });
    expect(a!.next.calls).toBe(2);
    expect(b!.next.calls).toBe(0);
  });

  it('leaves a cache of one process to the coalesce stage below: no board, no waiting', async () => {
    const { stage, next } = cacheStage();
    const answer = deferred<Answer>();
    next.reply = answer.promise;
    const asked = [ask(stage, 'www.example.nl'), ask(stage, 'www.example.nl')];
    await flush();
    expect(next.calls).toBe(2);
    answer.resolve(addressAnswer(makeQuery('www.example.nl'), '192.0.2.1', 300));
    expect((await Promise.all(asked)).map((result) => result.reply.data)).toEqual([['192.0.2.1'], ['192.0.2.1']]);
  });
});
