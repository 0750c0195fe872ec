import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AnswerCache } from '../../src/cache/answer-cache.js';
import { CacheMemory, Header, cacheLayout, localMemory, partLengths } from '../../src/cache/cache-memory.js';
import { nativeAddon } from '../../src/transport/native-addon.js';
import { scanResponse } from '../../src/wire/answer.js';
import { WireRequest, readRequest } from '../../src/wire/request.js';
import { encodeQuery, encodeResponse, TYPE } from '../support/packets.js';

const HAMMER = fileURLToPath(new URL('../support/cache-hammer.ts', import.meta.url));
const HAMMER_TIMEOUT_MS = 60_000;
const addon = nativeAddon()!['sharedMemory'] as { create(bytes: number): number; map(fd: number, lengths: number[]): ArrayBuffer[]; yield(): void };

function request(name: string): WireRequest {
  const req = new WireRequest();
  readRequest(encodeQuery(name, TYPE.A), req);
  return req;
}

function answerFor(req: WireRequest) {
  const msg = encodeResponse(1, req.qname(), TYPE.A, [{ name: req.qname(), type: TYPE.A, ttl: 300, address: '192.0.2.1' }]);
  return scanResponse(msg, 1, req.question, req.questionLength, 1232).answer!;
}

/** One operation in `storeOneIn` a store (1: only stores, 0: only lookups). */
function hammer(fd: number, entries: number, pages: number, ops: number, names: number, storeOneIn: number): Promise<{ ops: number; hits: number; wrong: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', HAMMER, ...[entries, pages, ops, names, storeOneIn].map(String)], {
    stdio: ['ignore', 'pipe', 'inherit', 'ignore', fd],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  // A broken lock can leave the structure looping forever: never leave such a child behind.
  const killer = setTimeout(() => child.kill('SIGKILL'), HAMMER_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      if (code === 0) resolve(JSON.parse(out));
      else reject(new Error(`hammer exited with ${code ?? signal}`));
    });
  });
}

describe('a cache in memory several processes map', () => {
  it('never hands a process torn or foreign bytes while three others store, evict and look up at once', async () => {
    // 64 entries in 16 pages for 500 names of 1 to 40 records: constant eviction and chunk reuse.
    const layout = { entries: 64, pages: 16 };
    const fd = addon.create(partLengths(layout).reduce((a, b) => a + b, 0));
    const results = await Promise.all([0, 1, 2].map(() => hammer(fd, layout.entries, layout.pages, 150_000, 500, 3)));
    for (const result of results) {
      expect(result.wrong).toBe(0);
      expect(result.hits).toBeGreaterThan(1000);
    }
    // The structure the three left behind is whole: this process maps it and finds it consistent.
    const cache = new AnswerCache(new CacheMemory(layout, addon.map(fd, partLengths(layout)), true, addon.yield));
    expect(cache.size).toBeGreaterThan(0);
    expect(cache.size).toBeLessThanOrEqual(64);
    const req = request('fresh.example.nl');
    cache.set(req, answerFor(req), Date.now(), 60);
    expect(cache.find(req, Date.now())).toBe(true);
    expect(cache.found.answer.wire.equals(answerFor(req).wire)).toBe(true);
  }, 120_000);

  it('never lets a lookup keep what it read while a store changed it: two processes only look up, one only stores', async () => {
    // The lookups take no lock; only the sequence word tells them a store ran meanwhile.
    const layout = { entries: 16, pages: 4 };
    const fd = addon.create(partLengths(layout).reduce((a, b) => a + b, 0));
    const results = await Promise.all([1, 0, 0].map((storeOneIn) => hammer(fd, layout.entries, layout.pages, storeOneIn === 1 ? 1_000_000 : 300_000, 100, storeOneIn)));
    for (const result of results.slice(1)) {
      expect(result.wrong).toBe(0);
      expect(result.hits).toBeGreaterThan(1000);
    }
  }, 120_000);

  it('answers lookups while a process that died holds the lock, and empties the cache if it died in a store', () => {
    const memory = localMemory(cacheLayout(10, 1024 * 1024));
    const cache = new AnswerCache(memory);
    const req = request('www.example.nl');
    cache.set(req, answerFor(req), Date.now(), 60);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    memory.header[Header.LOCK] = Number(dead.stdout);
    // Died outside a store (in a refresh mark, say): the entries are whole and stay readable.
    expect(cache.find(req, Date.now())).toBe(true);
    expect(cache.evictions.resets).toBe(0);
    // Died halfway through a store: lookups wait for the lock, take it over and empty the cache.
    memory.header[Header.CHANGES]! += 1;
    expect(cache.find(req, Date.now())).toBe(false);
    expect(cache.evictions.resets).toBe(1);
    expect(memory.header[Header.LOCK]).toBe(0);
    expect(memory.header[Header.CHANGES]! % 2).toBe(0);
    cache.set(req, answerFor(req), Date.now(), 60);
    expect(cache.find(req, Date.now())).toBe(true);
  });

  it('refuses to take the lock twice in one process (a bug), rather than waiting for itself', () => {
    const memory = localMemory(cacheLayout(10, 1024 * 1024));
    const cache = new AnswerCache(memory);
    memory.header[Header.LOCK] = process.pid;
    const req = request('www.example.nl');
    expect(() => cache.set(req, answerFor(req), Date.now(), 60)).toThrow('the cache lock was taken twice by one process');
  });
});
