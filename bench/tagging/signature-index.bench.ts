/**
 * The signature index on a 10,000-rule catalogue: lookups of names that hit a rule (two
 * labels below it) and of names that miss (same shape, unknown domain). Goal: 5 M/s/core.
 * Then the shipped catalogue (geo/apps): a name two labels below each of its domains, and
 * misses that end in its pattern rules' suffixes (so the patterns run) or look like its
 * domains without being them. A plain timed loop over the same lookups follows, to show
 * what the harness itself costs.
 */
import { loadCatalogue } from '../../src/tagging/catalogue.js';
import { SHIPPED } from '../../src/tagging/shipped-data.js';
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

const shipped = loadCatalogue(SHIPPED.catalogue);
const domains = shipped.apps.flatMap((app) => app.rules.flatMap((rule) => ('domain' in rule ? [rule.domain] : [])));
const suffixes = shipped.apps.flatMap((app) => app.rules.flatMap((rule) => ('pattern' in rule ? [rule.suffix] : [])));
const shippedHits = wireNames((i) => `api-${i}.edge.${domains[i % domains.length]}`);
const shippedMisses = wireNames((i) =>
  i % 2 === 0 ? `zz${i}.edge.${suffixes[i % suffixes.length]}` : `api-${i}.${domains[i % domains.length]!.replace('.', '-x.')}.example`,
);

const noText = (): string => '';
const check = (target: SignatureIndex<unknown>, names: Buffer[], hit: boolean): void => {
  for (const name of names) if ((target.match(name, 0, noText) !== null) !== hit) throw new Error(`a ${hit ? 'hit missed' : 'miss hit'}`);
};
check(index, hits, true);
check(index, misses, false);
check(shipped.index, shippedHits, true);
check(shipped.index, shippedMisses, false);

let i = 0;
let found = 0;
await runSuite('signature-index', {
  [`hit (${RULES} rules, 5-label names)`]: () => {
    if (index.match(hits[i++ & (NAMES - 1)]!, 0, noText) !== null) found++;
  },
  [`miss (${RULES} rules, 5-label names)`]: () => {
    if (index.match(misses[i++ & (NAMES - 1)]!, 0, noText) === null) found++;
  },
  [`hit (shipped catalogue, ${shipped.ruleCount} rules)`]: () => {
    if (shipped.index.match(shippedHits[i++ & (NAMES - 1)]!, 0, noText) !== null) found++;
  },
  [`miss (shipped catalogue, ${shipped.ruleCount} rules)`]: () => {
    if (shipped.index.match(shippedMisses[i++ & (NAMES - 1)]!, 0, noText) === null) found++;
  },
});
if (found === 0) throw new Error('nothing was looked up');

const loops = [
  ['hit', index, hits],
  ['miss', index, misses],
  ['hit, shipped', shipped.index, shippedHits],
  ['miss, shipped', shipped.index, shippedMisses],
] as const;
for (const [name, target, names] of loops) {
  let matched = 0;
  const start = process.hrtime.bigint();
  for (let n = 0; n < PLAIN_LOOKUPS; n++) if ((target as SignatureIndex<unknown>).match(names[n & (NAMES - 1)]!, 0, noText) !== null) matched++;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (matched !== (name.startsWith('hit') ? PLAIN_LOOKUPS : 0)) throw new Error(`plain loop: ${matched} ${name} lookups matched`);
  process.stdout.write(`${'signature-index'.padEnd(16)} ${`plain loop, ${name}`.padEnd(48)} ${Math.round(PLAIN_LOOKUPS / seconds).toLocaleString('en').padStart(13)} ops/s\n`);
}
