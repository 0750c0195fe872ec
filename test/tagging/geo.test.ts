import { describe, expect, it } from 'vitest';
import { Reader } from 'maxmind';
import { GeoTagger } from '../../src/tagging/geo-tagger.js';
import { MmdbWriter } from '../../src/tagging/mmdb-writer.js';
import { SHIPPED } from '../../src/tagging/shipped-data.js';

function fixtures(): { country: Buffer; asn: Buffer } {
  const country = new MmdbWriter('Test-Country', 'fixture');
  // Public ranges on purpose: documentation ranges are never looked up.
  country.insertRange('1.2.3.0', '1.2.3.127', { country: { iso_code: 'CN' } }); // GeoLite2 layout
  country.insertNetwork('2a00:1::/32', { country_code: 'RU' });
  country.insertNetwork('8.8.8.0/24', { country_code: 'US' });
  const asn = new MmdbWriter('Test-ASN', 'fixture');
  asn.insertNetwork('8.8.8.0/24', { autonomous_system_number: 15169, autonomous_system_organization: 'Google LLC' });
  return { country: country.toBuffer(), asn: asn.toBuffer() };
}

describe('MmdbWriter', () => {
  it('writes ranges the maxmind reader answers exactly at their edges', () => {
    const writer = new MmdbWriter('Test', 'edges');
    writer.insertRange('10.0.0.5', '10.0.1.7', { autonomous_system_number: 64500, autonomous_system_organization: 'Edge' });
    writer.insertRange('2001:db8::', '2001:db8::ffff', { autonomous_system_number: 64501, autonomous_system_organization: 'Six' });
    const reader = new Reader(writer.toBuffer());
    expect(reader.get('10.0.0.4')).toBeNull();
    expect(reader.get('10.0.0.5')).toEqual({ autonomous_system_number: 64500, autonomous_system_organization: 'Edge' });
    expect(reader.get('10.0.1.7')).not.toBeNull();
    expect(reader.get('10.0.1.8')).toBeNull();
    expect(reader.get('2001:db8::ffff')).toMatchObject({ autonomous_system_number: 64501 });
    expect(reader.get('2001:db8::1:0')).toBeNull();
    expect(reader.metadata.recordSize).toBe(24);
  });

  it('writes each map key once, pointed to from every record', () => {
    const writer = new MmdbWriter('Test', 'keys');
    for (let i = 0; i < 100; i++) writer.insertNetwork(`10.0.${i}.0/24`, { autonomous_system_number: 64500 + i, autonomous_system_organization: `Org ${i}` });
    const bytes = writer.toBuffer();
    const reader = new Reader(bytes);
    expect(reader.get('10.0.42.1')).toEqual({ autonomous_system_number: 64542, autonomous_system_organization: 'Org 42' });
    for (const key of ['autonomous_system_number', 'autonomous_system_organization']) {
      // Once in the data section; the metadata holds no such key.
      expect(bytes.indexOf(key)).toBeGreaterThan(0);
      expect(bytes.indexOf(key, bytes.indexOf(key) + 1)).toBe(-1);
    }
  });

  it('falls back to 32-bit records when the data reaches past 24 bits', () => {
    const writer = new MmdbWriter('Test', 'large');
    writer.insertNetwork('10.0.0.0/8', { note: 'x'.repeat(2 ** 24) });
    writer.insertNetwork('192.0.2.0/24', { note: 'last' });
    const reader = new Reader(writer.toBuffer());
    expect(reader.metadata.recordSize).toBe(32);
    expect(reader.get('192.0.2.1')).toEqual({ note: 'last' });
    expect((reader.get('10.1.2.3') as { note: string } | null)?.note.length).toBe(2 ** 24);
  });

  it('lets a longer network split a shorter one', () => {
    const writer = new MmdbWriter('Test', 'split');
    writer.insertNetwork('10.0.0.0/8', { country_code: 'NL' });
    writer.insertNetwork('10.1.0.0/16', { country_code: 'CN' });
    const reader = new Reader(writer.toBuffer());
    expect(reader.get('10.1.2.3')).toEqual({ country_code: 'CN' });
    expect(reader.get('10.2.0.1')).toEqual({ country_code: 'NL' });
  });
});

describe('GeoTagger', () => {
  const { country, asn } = fixtures();
  const geo = new GeoTagger(country, asn);

  it('tags public addresses with country, ASN and organisation, in either record layout', () => {
    expect(geo.tag('8.8.8.8')).toEqual({ ip: '8.8.8.8', country: 'US', asn: 15169, org: 'Google LLC' });
    expect(geo.tag('1.2.3.7')?.country).toBe('CN');
    expect(geo.tag('1.2.3.200')).toEqual({ ip: '1.2.3.200', country: null, asn: null, org: null });
    expect(geo.tag('2a00:1::5')?.country).toBe('RU');
  });

  it('never looks up private, loopback or other special addresses', () => {
    const before = geo.lookups;
    for (const address of ['10.1.2.3', '127.0.0.1', '192.168.1.1', '::1', 'fe80::1', '0.0.0.0', 'not an ip']) expect(geo.tag(address)).toBeNull();
    expect(geo.lookups).toBe(before);
  });

  it('judges an IPv4-mapped IPv6 address as the IPv4 address', () => {
    expect(geo.tag('::ffff:8.8.8.8')).toMatchObject({ ip: '8.8.8.8', country: 'US' });
  });

  it('answers a repeated address from its cache', () => {
    geo.tag('8.8.8.8');
    const before = geo.lookups;
    geo.tag('8.8.8.8');
    expect(geo.lookups).toBe(before);
  });

  it('places known addresses correctly in the embedded databases', () => {
    const embedded = GeoTagger.fromFiles(SHIPPED.countryDatabase, SHIPPED.asnDatabase);
    expect(embedded.tag('77.88.8.8')).toMatchObject({ country: 'RU', asn: 13238 });
    expect(embedded.tag('2a02:6b8::1')).toMatchObject({ country: 'RU', asn: 13238 });
    expect(embedded.tag('36.110.0.1')).toMatchObject({ country: 'CN' });
  });
});
