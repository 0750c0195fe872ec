import { MmdbWriter } from '../../src/tagging/mmdb-writer.js';

/**
 * Public addresses (documentation ranges are never looked up) placed by the fixture in
 * networks of the shipped owners file: AS396986 is ByteDance's, AS13238 Yandex's; AS64496
 * belongs to nobody there.
 */
export function ownerNetworkFixture(): { country: Buffer; asn: Buffer } {
  const country = new MmdbWriter('Test-Country', 'owner networks');
  country.insertNetwork('193.0.14.0/24', { country_code: 'NL' });
  country.insertNetwork('2a05:d000::/32', { country_code: 'NL' });
  country.insertNetwork('5.255.255.0/24', { country_code: 'RU' });
  country.insertNetwork('36.110.0.0/16', { country_code: 'CN' });
  const asn = new MmdbWriter('Test-ASN', 'owner networks');
  asn.insertNetwork('193.0.14.0/25', { autonomous_system_number: 396986, autonomous_system_organization: 'BYTEDANCE' });
  asn.insertNetwork('193.0.14.128/25', { autonomous_system_number: 64496, autonomous_system_organization: 'Example Hosting' });
  asn.insertNetwork('2a05:d000::/32', { autonomous_system_number: 396986, autonomous_system_organization: 'BYTEDANCE' });
  asn.insertNetwork('5.255.255.0/24', { autonomous_system_number: 13238, autonomous_system_organization: 'YANDEX LLC' });
  asn.insertNetwork('36.110.0.0/16', { autonomous_system_number: 64497, autonomous_system_organization: 'Example CN Carrier' });
  return { country: country.toBuffer(), asn: asn.toBuffer() };
}
