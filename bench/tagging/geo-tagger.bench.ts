/**
 * GeoIP + ASN tagging of answer addresses with the embedded databases: through the
 * per-address cache (the common case, answers repeat) and uncached (every address new).
 * Goal: 1 M tags/s with the cache.
 */
import { GeoTagger } from '../../src/tagging/geo-tagger.js';
import { SHIPPED } from '../../src/tagging/shipped-data.js';
import { runSuite } from '../support/suite.js';

const ADDRESSES = 1024;
const cached = GeoTagger.fromFiles(SHIPPED.countryDatabase, SHIPPED.asnDatabase);
const uncached = GeoTagger.fromFiles(SHIPPED.countryDatabase, SHIPPED.asnDatabase);
// Public addresses spread over the IPv4 space (first octets 1-223, skipping 10, 127).
const addresses = Array.from({ length: ADDRESSES }, (_, i) => {
  const first = 1 + ((i * 37) % 222);
  return `${first === 10 || first === 127 ? first + 1 : first}.${(i * 13) % 256}.${(i * 7) % 256}.${1 + (i % 250)}`;
});
for (const address of addresses) cached.tag(address);
if (addresses.every((address) => cached.tag(address) === null)) throw new Error('no address was tagged');

let i = 0;
let fresh = 0;
let found = 0;
await runSuite('geo-tagger', {
  'tag an answer address (cached)': () => {
    if (cached.tag(addresses[i++ & (ADDRESSES - 1)]!) !== null) found++;
  },
  'tag an answer address (uncached: country + ASN lookups)': () => {
    // A new address each time: the last octet walks, so the cache never hits.
    fresh = (fresh + 1) & 0xffffff;
    if (uncached.tag(`45.${(fresh >>> 16) & 255}.${(fresh >>> 8) & 255}.${fresh & 255}`) !== null) found++;
  },
});
if (found === 0) throw new Error('nothing was tagged');
