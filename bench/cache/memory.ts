/**
 * Memory of a full cache: fills the answer cache with N answers as the resolver stores
 * them (scanned upstream answers, tagged) and reports RSS and heap, for the bar "RSS ≤ 300
 * MB with 1 M cached answers". Usage: node --expose-gc --import tsx bench/cache/memory.ts [N]
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { buildResolverChain } from '../../src/pipeline/resolver-chain.js';
import { tagAnswer } from '../../src/tagging/tagger.js';
import { Query } from '../../src/pipeline/query.js';
import { scanResponse } from '../../src/wire/answer.js';
import { readRequest } from '../../src/wire/request.js';
import { encodeQuery, encodeResponse, TYPE } from '../../test/support/packets.js';

const count = Number(process.argv[2] ?? 1_000_000);
const config = loadConfig({ text: `cache: { max_entries: ${count} }`, overrides: { upstream: ['127.0.0.1:1'] } });
const resolver = buildResolverChain(config);
const mib = (bytes: number): number => Math.round(bytes / 1024 / 1024);
globalThis.gc?.();
const before = process.memoryUsage();
const query = new Query();
const now = Date.now();
for (let i = 0; i < count; i++) {
  // A typical answer: one A record (20 % AAAA), names of phone-app length.
  const name = `host-${i}.api${i % 977}.example${i % 31}.nl`;
  const type = i % 5 === 0 ? TYPE.AAAA : TYPE.A;
  const address = type === TYPE.A ? `192.0.${(i >> 8) & 255}.${i & 255}` : `2001:db8::${(i & 0xffff).toString(16)}`;
  const msg = encodeQuery(name, type, { id: 1, edns: { udp: 1232 } });
  readRequest(msg, query);
  const answer = scanResponse(encodeResponse(1, name, type, [{ name, type, ttl: 3600, address }], { edns: true }), 1, query.question, query.questionLength, 1232).answer!;
  answer.tags = tagAnswer(query, answer, resolver.detection.current);
  resolver.cache.cache.set(query, answer, now, 3600, 86_400);
}
globalThis.gc?.();
const after = process.memoryUsage();
const result = {
  entries: resolver.cache.cache.size,
  rssMiB: mib(after.rss),
  rssGrowthMiB: mib(after.rss - before.rss),
  heapUsedGrowthMiB: mib(after.heapUsed - before.heapUsed),
  externalGrowthMiB: mib(after.external + after.arrayBuffers - before.external - before.arrayBuffers),
  bytesPerEntry: Math.round((after.rss - before.rss) / count),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
await writeFile(fileURLToPath(new URL('../results/cache-memory.json', import.meta.url)), `${JSON.stringify({ node: process.version, date: new Date().toISOString(), ...result }, null, 2)}\n`);
