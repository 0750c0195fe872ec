/**
 * Child of memory.ts: runs on the compiled build (dist/), without the TypeScript loader,
 * so the RSS it reports is the product's own. Fills a worker's answer cache with N scanned,
 * tagged upstream answers and prints one JSON line.
 */
import { loadConfig } from '../../dist/config/load.js';
import { Query } from '../../dist/pipeline/query.js';
import { buildResolverChain } from '../../dist/server/resolver-chain.js';
import { tagAnswer } from '../../dist/tagging/tagger.js';
import { scanResponse } from '../../dist/wire/answer.js';
import { readRequest } from '../../dist/wire/request.js';

const count = Number(process.argv[2]);
const config = loadConfig({ text: `cache: { max_entries: ${count} }`, overrides: { upstream: ['127.0.0.1:1'] } });
const resolver = buildResolverChain(config);
const detection = resolver.detection.current;
const cache = resolver.cache.cache;

/** Name in wire form. */
function encodeName(name) {
  const parts = [];
  for (const label of name.split('.')) parts.push(Buffer.from([label.length]), Buffer.from(label, 'ascii'));
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** A query with EDNS (UDP 1232), and its answer: one record, owner compressed to the question, OPT last. */
function packets(name, type, rdata) {
  const question = Buffer.concat([encodeName(name), Buffer.from([0, type, 0, 1])]);
  const opt = Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
  const header = (flags, ancount) => Buffer.from([0, 1, flags >> 8, flags & 255, 0, 1, 0, ancount, 0, 0, 0, 1]);
  const record = Buffer.alloc(12 + rdata.length);
  record.writeUInt16BE(0xc00c, 0);
  record.writeUInt16BE(type, 2);
  record.writeUInt16BE(1, 4);
  record.writeUInt32BE(3600, 6);
  record.writeUInt16BE(rdata.length, 10);
  rdata.copy(record, 12);
  return {
    query: Buffer.concat([header(0x0100, 0), question, opt]),
    response: Buffer.concat([header(0x8180, 1), question, record, opt]),
  };
}

globalThis.gc();
const before = process.memoryUsage();
const query = new Query();
const now = Date.now();
let watchlistHosted = 0;
for (let i = 0; i < count; i++) {
  // Phone-app-length names; 80 % A, 20 % AAAA; public addresses spread over many networks,
  // so the GeoIP lookups and their cache are part of the figure.
  const name = `host-${i}.api${i % 977}.example${i % 31}.nl`;
  const aaaa = i % 5 === 0;
  const rdata = aaaa
    ? Buffer.from([0x2a, 0x00, (i >> 16) & 255, (i >> 8) & 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, i & 255])
    : Buffer.from([31 + (i % 190), (i >> 16) & 255, (i >> 8) & 255, i & 255]);
  const { query: msg, response } = packets(name, aaaa ? 28 : 1, rdata);
  readRequest(msg, query);
  const answer = scanResponse(response, 1, query.question, query.questionLength, 1232).answer;
  answer.tags = tagAnswer(query, answer, detection);
  if (answer.tags.hostingWatchlisted) watchlistHosted++;
  cache.set(query, answer, now, 3600, 86_400);
}
// Let the process settle as a server between bursts would: full collections, and time for
// V8's background sweeper to hand freed ArrayBuffers back.
for (let round = 0; round < 4; round++) {
  globalThis.gc();
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const after = process.memoryUsage();
const mib = (bytes) => Math.round(bytes / 1024 / 1024);
process.stdout.write(
  `${JSON.stringify({
    entries: cache.size,
    watchlistHosted,
    rssMiB: mib(after.rss),
    rssMB: Math.round(after.rss / 1e6),
    baselineRssMiB: mib(before.rss),
    rssGrowthMiB: mib(after.rss - before.rss),
    heapUsedGrowthMiB: mib(after.heapUsed - before.heapUsed),
    heapTotalGrowthMiB: mib(after.heapTotal - before.heapTotal),
    arrayBuffersGrowthMiB: mib(after.arrayBuffers - before.arrayBuffers),
    answerBytesMiB: mib(cache.answerBytes),
    bytesPerEntry: Math.round((after.rss - before.rss) / count),
  })}\n`,
);
