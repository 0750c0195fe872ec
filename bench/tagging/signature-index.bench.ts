/**
 * The signature index on a 10,000-rule catalogue: lookups of names that hit a rule (two
 * labels below it) and of names that miss (same shape, unknown domain). Goal: 5 M/s/core.
 * A plain timed loop over the same lookups follows, to show what the harness itself costs.
 */
import { SignatureIndex, toWire } from '../../src/tagging/signature-index.js';
import { runSuite } from '../support/suite.js';

const RULES = 10_000;
const NAMES = 1024;
const PLAIN_LOOKUPS = 10_000_000;

const index = new SignatureIndex<number>();
for (let i = 0; i < RULES; i++) index.add(i % 50, `backend${i}.vendor${i % 997}.com`, `backend${i}.vendor${i % 997}.com`);

/** Names in the wire form the resolver holds them in (lower-case, uncompressed, root-terminated). */
function wireNames(make: (i: number) => string): Buffer[] {
  return Array.from({ length: NAMES }, (_, i) => Buffer.concat([toWire(make(i)), Buffer.from([0])]));
}
const hits = wireNames((i) => `api-${i}.edge.backend${(i * 7919) % RULES}.vendor${((i * 7919) % RULES) % 997}.com`);
const misses = wireNames((i) => `api-${i}.edge.backend${i}.unknown${i % 997}.net`);

const noText = (): string => '';
for (const name of hits) if (index.match(name, 0, noText) === null) throw new Error('a hit missed');
for (const name of misses) if (index.match(name, 0, noText) !== null) throw new Error('a miss hit');

let i = 0;
let found = 0;
await runSuite('signature-index', {
  [`hit (${RULES} rules, 5-label names)`]: () => {
    if (index.match(hits[i++ & (NAMES - 1)]!, 0, noText) !== null) found++;
  },
  [`miss (${RULES} rules, 5-label names)`]: () => {
    if (index.match(misses[i++ & (NAMES - 1)]!, 0, noText) === null) found++;
  },
});
if (found === 0) throw new Error('nothing was looked up');

for (const [name, names] of [['hit', hits], ['miss', misses]] as const) {
  let matched = 0;
  const start = process.hrtime.bigint();
  for (let n = 0; n < PLAIN_LOOKUPS; n++) if (index.match(names[n & (NAMES - 1)]!, 0, noText) !== null) matched++;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (matched !== (name === 'hit' ? PLAIN_LOOKUPS : 0)) throw new Error(`plain loop: ${matched} ${name} lookups matched`);
  process.stdout.write(`${'signature-index'.padEnd(16)} ${`plain loop, ${name}`.padEnd(48)} ${Math.round(PLAIN_LOOKUPS / seconds).toLocaleString('en').padStart(13)} ops/s\n`);
}
