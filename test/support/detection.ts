import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { loadDetection, type Detection } from '../../src/tagging/detection.js';
import { GeoTagger } from '../../src/tagging/geo-tagger.js';
import { MmdbWriter } from '../../src/tagging/mmdb-writer.js';

/** A configuration from YAML text and the schema's defaults; the upstream is never contacted. */
export function testConfig(yaml = ''): Config {
  return loadConfig({ text: yaml, overrides: { upstream: ['127.0.0.1:5300'] } });
}

/**
 * Hosting of the fixture addresses (public ranges: documentation ranges are never looked up):
 * 1.2.3.0/24 in CN (AS4134), 2a00:1::/32 in RU, 8.8.8.0/24 in US (AS15169).
 */
export function fixtureGeo(): GeoTagger {
  const country = new MmdbWriter('Test-Country', 'stage fixture');
  country.insertNetwork('1.2.3.0/24', { country_code: 'CN' });
  country.insertNetwork('2a00:1::/32', { country_code: 'RU' });
  country.insertNetwork('8.8.8.0/24', { country_code: 'US' });
  const asn = new MmdbWriter('Test-ASN', 'stage fixture');
  asn.insertNetwork('1.2.3.0/24', { autonomous_system_number: 4134, autonomous_system_organization: 'Chinanet' });
  asn.insertNetwork('8.8.8.0/24', { autonomous_system_number: 15169, autonomous_system_organization: 'Google LLC' });
  return new GeoTagger(country.toBuffer(), asn.toBuffer());
}

/** The shipped catalogue, watch list and bypass endpoints (via loadDetection) with the fixture hosting data. */
export function fixtureDetection(config: Config = testConfig()): Detection {
  return { ...loadDetection(config), geo: fixtureGeo() };
}
