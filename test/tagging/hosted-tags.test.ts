import { describe, expect, it } from 'vitest';
import { AnswerCache } from '../../src/cache/answer-cache.js';
import { cacheLayout, localMemory } from '../../src/cache/cache-memory.js';
import { WATCHLIST_HOSTED } from '../../src/tagging/answer-tags.js';
import { HostedTagsMemo } from '../../src/tagging/hosted-tags.js';
import { tagAnswer } from '../../src/tagging/tagger.js';
import { fixtureDetection } from '../support/detection.js';
import { addressAnswer, makeQuery } from '../support/stages.js';

/** The shipped catalogue with fixture hosting: 1.2.3.0/24 is CN, on the watch list. */
const detection = fixtureDetection();
const CN_HOSTING = [{ ip: '1.2.3.4', country: 'CN', asn: 4134, org: 'Chinanet' }];

/** A cache holding `name` → `address`, tagged as the tag stage would. */
function cacheWith(cache: AnswerCache, name: string, address: string): void {
  const query = makeQuery(name);
  const answer = addressAnswer(query, address);
  answer.tags = tagAnswer(query, answer, detection);
  cache.set(query, answer, 0, 300);
}

function hit(cache: AnswerCache, name: string) {
  const query = makeQuery(name);
  expect(cache.find(query, 0)).toBe(true);
  return cache.found.answer;
}

describe('HostedTagsMemo', () => {
  it('looks a cached answer up once per store, and again after it is stored anew', () => {
    const cache = new AnswerCache(localMemory(cacheLayout(16, 1024 * 1024)));
    cacheWith(cache, 'cn-hosted.example.nl', '1.2.3.4');
    const memo = new HostedTagsMemo();
    const first = hit(cache, 'cn-hosted.example.nl');
    expect(first.tags).toBe(WATCHLIST_HOSTED);
    expect(first.stored).not.toBe(0);
    const tags = memo.of(first, detection);
    expect(tags).toMatchObject({ app: null, hostingWatchlisted: true, hosting: CN_HOSTING });
    // Same store: the same tags, not a new look-up.
    expect(memo.of(hit(cache, 'cn-hosted.example.nl'), detection)).toBe(tags);
    // Stored again with another address: a new store number, looked up anew.
    cacheWith(cache, 'cn-hosted.example.nl', '1.2.3.5');
    const again = memo.of(hit(cache, 'cn-hosted.example.nl'), detection);
    expect(again).not.toBe(tags);
    expect(again.hosting).toMatchObject([{ ip: '1.2.3.5', country: 'CN' }]);
  });

  it('keeps the answers of different stores apart, and forgets everything when the detection data change', () => {
    const cache = new AnswerCache(localMemory(cacheLayout(16, 1024 * 1024)));
    cacheWith(cache, 'a.example.nl', '1.2.3.6');
    cacheWith(cache, 'b.example.nl', '1.2.3.7');
    const memo = new HostedTagsMemo();
    const a = memo.of(hit(cache, 'a.example.nl'), detection);
    const b = memo.of(hit(cache, 'b.example.nl'), detection);
    expect(a.hosting).toMatchObject([{ ip: '1.2.3.6' }]);
    expect(b.hosting).toMatchObject([{ ip: '1.2.3.7' }]);
    expect(memo.of(hit(cache, 'a.example.nl'), detection)).toBe(a);
    // A reload: new GeoIP data may place the address elsewhere.
    const reloaded = fixtureDetection();
    const fresh = memo.of(hit(cache, 'a.example.nl'), reloaded);
    expect(fresh).not.toBe(a);
    expect(fresh.hosting).toEqual(a.hosting);
  });

  it('looks up every time an answer that is no view of the cache', () => {
    const query = makeQuery('cn-hosted.example.nl');
    const answer = addressAnswer(query, '1.2.3.4');
    expect(answer.stored).toBe(0);
    const memo = new HostedTagsMemo();
    const tags = memo.of(answer, detection);
    expect(tags.hosting).toMatchObject(CN_HOSTING);
    expect(memo.of(answer, detection)).not.toBe(tags);
  });
});
