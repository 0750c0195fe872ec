/**
 * The upstream's data: one large zone of benchmark names plus zones for a handful of
 * catalogued app domains, so that peers which do not block still resolve them.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The zone every hot, hit and never-seen name lives in. */
export const BENCH_ZONE = 'bench.wachtpost';
const BENCH_NAMES = 100_000;
/** Never-seen names are `LABEL.fresh.bench.wachtpost`, answered by a wildcard. */
export const FRESH_SUFFIX = `fresh.${BENCH_ZONE}`;
/**
 * App domains from geo/apps whose owners sit in watch-listed countries (ByteDance CN,
 * Kaspersky RU, Yandex RU): Wachtpost in enforce mode blocks them, and the peers are
 * configured to answer NXDOMAIN for the same zones.
 */
export const BLOCKED_DOMAINS = ['tiktokv.com', 'byteoversea.com', 'ibyteimg.com', 'snssdk.com', 'kaspersky.com', 'yandex.net'] as const;
/** Long enough that hot names stay cached for the whole run. */
const TTL = 3600;

/** Name `i` of the bench zone (0 ≤ i < BENCH_NAMES). */
export function benchName(i: number): string {
  return `n${i}.${BENCH_ZONE}`;
}

/**
 * Public unicast addresses spread over many networks, so the GeoIP/ASN tagger does real
 * lookups on the miss path (no traffic ever goes to them: they are only answer data).
 */
function ipv4Of(i: number): string {
  return `${[31, 45, 77, 104, 142, 151, 185, 213][i & 7]}.${(i >> 3) & 255}.${(i >> 11) & 255}.${1 + (i % 250)}`;
}

function ipv6Of(i: number): string {
  return `2a00:1450:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::1`;
}

function header(origin: string): string[] {
  return [`$ORIGIN ${origin}.`, `$TTL ${TTL}`, '@ SOA ns hostmaster 1 3600 600 86400 60', '@ NS ns', 'ns A 127.0.0.1'];
}

function benchZone(): string {
  const lines = header(BENCH_ZONE);
  for (let i = 0; i < BENCH_NAMES; i++) lines.push(`n${i} A ${ipv4Of(i)}`, `n${i} AAAA ${ipv6Of(i)}`);
  lines.push(`*.fresh A ${ipv4Of(BENCH_NAMES)}`, `*.fresh AAAA ${ipv6Of(BENCH_NAMES)}`);
  return `${lines.join('\n')}\n`;
}

function appZone(domain: string, index: number): string {
  const address = `161.117.${index}.10`;
  return `${[...header(domain), `@ A ${address}`, `* A ${address}`, `* AAAA 2400:3200:${index}::10`].join('\n')}\n`;
}

/** Writes every zone file into `dir`; returns zone name → file path. */
export async function writeZones(dir: string): Promise<Map<string, string>> {
  const zones = new Map<string, string>([[BENCH_ZONE, benchZone()], ...BLOCKED_DOMAINS.map((domain, i) => [domain, appZone(domain, i)] as const)]);
  const files = new Map<string, string>();
  for (const [name, text] of zones) {
    const file = join(dir, `${name}.zone`);
    await writeFile(file, text);
    files.set(name, file);
  }
  return files;
}
