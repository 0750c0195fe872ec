/**
 * Run as a child process by test/cache/shared-memory.test.ts: maps the cache memory handed
 * over as fd 4 (layout in argv), then stores and looks up answers at random for a while
 * (one operation in `storeOneIn` a store; 1: only stores, 0: only lookups), checking every
 * answer found byte for byte against the one stored under its name. Prints one JSON line:
 * { ops, hits, wrong }.
 */
import { AnswerCache } from '../../src/cache/answer-cache.js';
import { CacheMemory, partLengths } from '../../src/cache/cache-memory.js';
import { nativeAddon } from '../../src/transport/native-addon.js';
import { scanResponse } from '../../src/wire/answer.js';
import { WireRequest, readRequest } from '../../src/wire/request.js';
import { encodeQuery, encodeResponse, TYPE } from './packets.js';

const [entries, pages, ops, names, storeOneIn] = process.argv.slice(2).map(Number) as [number, number, number, number, number];
const addon = nativeAddon()!['sharedMemory'] as { map(fd: number, lengths: number[]): ArrayBuffer[]; yield(): void };
const layout = { entries, pages };
const cache = new AnswerCache(new CacheMemory(layout, addon.map(4, partLengths(layout)), true, addon.yield));

const requests = Array.from({ length: names }, (_, i) => {
  const req = new WireRequest();
  readRequest(encodeQuery(`host-${i}.example.nl`, TYPE.A), req);
  return req;
});
// Answers of different sizes (1 to 40 records), so chunks of many classes come and go.
const answers = requests.map((req, i) => {
  const records = Array.from({ length: 1 + (i % 40) }, (_, r) => ({ name: req.qname(), type: TYPE.A, ttl: 300, address: `10.${i >> 8}.${i & 255}.${r}` }));
  return scanResponse(encodeResponse(1, req.qname(), TYPE.A, records), 1, req.question, req.questionLength, 1232).answer!;
});
const expected = answers.map((answer) => Buffer.from(answer.wire));

let seed = process.pid;
const random = (n: number): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return (seed >>> 8) % n;
};
// Lookups alone wait for a store to fill the cache first: they would be over before it began.
const filled = Date.now() + 30_000;
while (storeOneIn === 0 && cache.size < entries / 2 && Date.now() < filled) await new Promise((resolve) => setTimeout(resolve, 5));
let hits = 0;
let wrong = 0;
for (let op = 0; op < ops; op++) {
  const which = random(names);
  if (storeOneIn > 0 && random(storeOneIn) === 0) cache.set(requests[which]!, answers[which]!, Date.now(), 60);
  else if (cache.find(requests[which]!, Date.now())) {
    hits++;
    if (!cache.found.answer.wire.equals(expected[which]!)) wrong++;
  }
}
process.stdout.write(`${JSON.stringify({ ops, hits, wrong })}\n`);
