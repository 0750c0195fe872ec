import { readFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import { LRUCache } from 'lru-cache';
import { Reader, type Response } from 'maxmind';

/** Where one answer address is hosted. */
export interface HostingTag {
  readonly ip: string;
  /** ISO 3166-1 alpha-2, or null when the database does not know. */
  readonly country: string | null;
  readonly asn: number | null;
  readonly org: string | null;
}

/**
 * Reads a GeoIP database file whole. A server's workers are handed one that returns the
 * copy their primary shares with them while the file is unchanged.
 */
export type DatabaseReader = (path: string) => Buffer;

/** The record layouts accepted: ip-location-db (country_code) and MaxMind GeoLite2/GeoIP2. */
interface CountryRecord {
  country_code?: string;
  country?: { iso_code?: string };
  registered_country?: { iso_code?: string };
}
interface AsnRecord {
  autonomous_system_number?: number;
  autonomous_system_organization?: string;
}

const readFile: DatabaseReader = (path) => readFileSync(path);

/**
 * Addresses are tagged once per upstream answer, never on a cache hit, so this only saves
 * the ~7 µs database lookup on the miss path for popular addresses; at about 250 bytes an
 * entry, 100,000 of them would cost 24 MiB per worker for little gain.
 */
const CACHE_ENTRIES = 16_384;

/**
 * Country and ASN of answer addresses from two MaxMind DB files. Only public unicast
 * addresses are looked up (private, loopback, documentation and other special ranges carry
 * no jurisdiction), IPv4-mapped IPv6 is judged as IPv4, an IPv4-only database is never asked
 * about IPv6, and results are cached per address so a repeated answer costs a map lookup.
 */
export class GeoTagger {
  private readonly country: Reader<Response>;
  private readonly asn: Reader<Response>;
  private readonly cache = new LRUCache<string, HostingTag | false>({ max: CACHE_ENTRIES });
  lookups = 0;

  constructor(countryDatabase: Buffer, asnDatabase: Buffer) {
    this.country = new Reader<Response>(countryDatabase);
    this.asn = new Reader<Response>(asnDatabase);
  }

  static fromFiles(countryPath: string, asnPath: string, read: DatabaseReader = readFile): GeoTagger {
    return new GeoTagger(read(countryPath), read(asnPath));
  }

  /** The hosting tag of `address`, or null for addresses that are not public unicast. */
  tag(address: string): HostingTag | null {
    const cached = this.cache.get(address);
    if (cached !== undefined) return cached === false ? null : cached;
    const tag = this.lookup(address);
    this.cache.set(address, tag ?? false);
    return tag;
  }

  private lookup(address: string): HostingTag | null {
    if (!ipaddr.isValid(address)) return null;
    const ip = ipaddr.process(address);
    if (ip.range() !== 'unicast') return null;
    const text = ip.toString();
    this.lookups++;
    const country = this.ask(this.country, ip.kind(), text) as CountryRecord | null;
    const asn = this.ask(this.asn, ip.kind(), text) as AsnRecord | null;
    return {
      ip: text,
      country: country?.country_code ?? country?.country?.iso_code ?? country?.registered_country?.iso_code ?? null,
      asn: asn?.autonomous_system_number ?? null,
      org: asn?.autonomous_system_organization ?? null,
    };
  }

  private ask(reader: Reader<Response>, kind: 'ipv4' | 'ipv6', text: string): Response | null {
    if (kind === 'ipv6' && reader.metadata.ipVersion === 4) return null;
    return reader.get(text);
  }
}
