import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('../../', import.meta.url));

/** The data the package ships or installs, used when the configuration names no other. */
export const SHIPPED = {
  /** The directory the catalogue's files sit in, as `wachtpost catalogue bundle` reads them. */
  geo: join(root, 'geo'),
  catalogue: join(root, 'geo/apps'),
  owners: join(root, 'geo/owners.yaml'),
  info: join(root, 'geo/catalogue.yaml'),
  jurisdictions: join(root, 'geo/jurisdictions.yaml'),
  bypassEndpoints: join(root, 'geo/doh-endpoints.yaml'),
  /** Built from @ip-location-db/asn by `npm run build:geo`. */
  asnDatabase: join(root, 'geo/asn.mmdb'),
  countryDatabase: join(dirname(require.resolve('@ip-location-db/geo-whois-asn-country-mmdb/package.json')), 'geo-whois-asn-country.mmdb'),
} as const;

/** The owners file of a catalogue directory: `owners.yaml` beside it, as geo/owners.yaml sits beside geo/apps. */
export function ownersFileOf(catalogueDir: string): string {
  return catalogueDir === '' ? SHIPPED.owners : besideCatalogue(catalogueDir, 'owners.yaml');
}

/** The version file of a catalogue directory: `catalogue.yaml` beside it, as geo/catalogue.yaml sits beside geo/apps. */
export function infoFileOf(catalogueDir: string): string {
  return catalogueDir === '' ? SHIPPED.info : besideCatalogue(catalogueDir, 'catalogue.yaml');
}

function besideCatalogue(catalogueDir: string, name: string): string {
  return join(dirname(resolve(catalogueDir)), name);
}
