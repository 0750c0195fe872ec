/**
 * Build step: turns the ASN ranges installed by npm (@ip-location-db/asn, CSV: first
 * address, last address, ASN, organisation; CC BY 4.0, RouteViews, DB-IP and NRO) into a
 * MaxMind DB with GeoLite2-ASN field names, so the same reader code serves it and an
 * operator's own GeoLite2/GeoIP2 ASN file. Run by `npm run build:geo` (part of prepare).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MmdbWriter } from './mmdb-writer.js';

const require = createRequire(import.meta.url);
const source = dirname(require.resolve('@ip-location-db/asn/package.json'));
const target = process.argv[2] ?? fileURLToPath(new URL('../../geo/asn.mmdb', import.meta.url));

/** Splits one CSV line; organisation names may be quoted and contain commas or "" escapes. */
export function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}

const started = Date.now();
const writer = new MmdbWriter('Wachtpost-ASN', 'ASN by RouteViews, DB-IP and NRO via ip-location-db (CC BY 4.0)');
let ranges = 0;
for (const file of ['asn-ipv4.csv', 'asn-ipv6.csv']) {
  for (const line of readFileSync(join(source, file), 'utf8').split('\n')) {
    if (line.length === 0) continue;
    const [first, last, asn, organisation] = splitCsvLine(line);
    writer.insertRange(first!, last!, { autonomous_system_number: Number(asn), autonomous_system_organization: organisation ?? '' });
    ranges++;
  }
}
const database = writer.toBuffer();
writeFileSync(target, database);
process.stdout.write(`${target}: ${ranges} ranges, ${(database.length / 1e6).toFixed(1)} MB in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
