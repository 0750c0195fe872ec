import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('../../', import.meta.url));

/** The data the package ships or installs, used when the configuration names no other. */
export const SHIPPED = {
  catalogue: join(root, 'geo/apps'),
  jurisdictions: join(root, 'geo/jurisdictions.yaml'),
  bypassEndpoints: join(root, 'geo/doh-endpoints.yaml'),
  /** Built from @ip-location-db/asn by `npm run build:geo`. */
  asnDatabase: join(root, 'geo/asn.mmdb'),
  countryDatabase: join(dirname(require.resolve('@ip-location-db/geo-whois-asn-country-mmdb/package.json')), 'geo-whois-asn-country.mmdb'),
} as const;
