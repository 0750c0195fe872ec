import { describe, expect, it } from 'vitest';
import { AnswerCache } from '../../src/cache/answer-cache.js';
import { Answer } from '../../src/wire/answer.js';
import { WireRequest, readRequest } from '../../src/wire/request.js';
import { encodeQuery, TYPE } from '../support/packets.js';

function request(name: string, type = TYPE.A): WireRequest {
  const req = new WireRequest();
  readRequest(encodeQuery(name, type), req);
  return req;
}

describe('AnswerCache', () => {
  const answer = Answer.synthetic(0);

  it('finds an entry by a differently cased question', () => {
    const cache = new AnswerCache(10);
    cache.set(request('Example.NL'), answer, 1000, 60, 0);
    const entry = cache.get(request('example.nl'));
    expect(entry?.answer).toBe(answer);
    expect(entry?.expiresAt).toBe(61_000);
  });

  it('never returns an entry whose stored question differs, even under the same hash key', () => {
    const cache = new AnswerCache(10);
    const stored = request('a.example.nl');
    cache.set(stored, answer, 0, 60, 0);
    const other = request('b.example.nl');
    other.key = stored.key; // force a collision
    expect(cache.get(other)).toBeUndefined();
  });

  it('evicts the least recently used entry at capacity', () => {
    const cache = new AnswerCache(2);
    cache.set(request('one.nl'), answer, 0, 60, 0);
    cache.set(request('two.nl'), answer, 0, 60, 0);
    cache.get(request('one.nl'));
    cache.set(request('three.nl'), answer, 0, 60, 0);
    expect(cache.get(request('two.nl'))).toBeUndefined();
    expect(cache.get(request('one.nl'))).toBeDefined();
    expect(cache.size).toBe(2);
  });
});
