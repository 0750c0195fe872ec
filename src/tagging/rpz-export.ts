import type { App, AppRule } from './catalogue-schema.js';
import type { Catalogue } from './catalogue.js';
import { normaliseName } from './signature-index.js';

export interface RpzOptions {
  /** The zone's name, as the resolver's rpz/response-policy clause names it. */
  readonly zone: string;
  /** Every app, not only those whose owner sits in a watch-listed country. */
  readonly all: boolean;
  /** TTL of the policy answers (Wachtpost's policy.block_ttl). */
  readonly ttl: number;
  readonly serial: number;
}

export interface RpzExport {
  readonly text: string;
  readonly apps: number;
  readonly domains: number;
  /** Pattern rules: listed as comments, since RPZ matches names and wildcards only. */
  readonly patterns: number;
}

/**
 * Writes the catalogue (and the local rules) as a response policy zone, so an existing
 * Unbound, BIND, Knot Resolver or PowerDNS can enforce the same list: for every domain
 * rule `name CNAME .` and `*.name CNAME .` (NXDOMAIN for the name and every name below
 * it, as a Wachtpost domain rule matches). A domain of an app left out (its owner is not
 * watch-listed) below one that is exported gets rpz-passthru, since RPZ, like Wachtpost,
 * lets the most specific name win. Pattern rules cannot be expressed and are listed as
 * comments.
 */
export function exportRpz(catalogue: Catalogue, watchlist: ReadonlySet<string>, options: RpzOptions): RpzExport {
  const rulesOf = new Map<App, AppRule[]>(catalogue.apps.map((app) => [app, [...app.rules]]));
  for (const { app, rule } of catalogue.local.rules) rulesOf.get(app)!.push(rule);
  const included = (app: App) => options.all || watchlist.has(app.owner_country);
  const blocked = new Set<string>();
  for (const [app, rules] of rulesOf) if (included(app)) for (const rule of rules) if ('domain' in rule) blocked.add(normaliseName(rule.domain));

  const out = header(catalogue, watchlist, options);
  const patterns: string[] = [];
  let apps = 0;
  for (const [app, rules] of rulesOf) {
    const domains = rules.flatMap((rule) => ('domain' in rule ? [normaliseName(rule.domain)] : []));
    if (!included(app)) {
      const exceptions = domains.filter((domain) => underAny(domain, blocked));
      if (exceptions.length > 0) out.push('', `; ${describe(app)}: not exported, below names that are`, ...exceptions.flatMap((domain) => records(domain, 'rpz-passthru.')));
      continue;
    }
    apps++;
    out.push('', `; ${describe(app)}`, ...domains.flatMap((domain) => records(domain, '.')));
    for (const rule of rules) if ('pattern' in rule) patterns.push(comment(`; ${app.id}: ${rule.pattern} (below ${rule.suffix})`));
  }
  if (patterns.length > 0) {
    out.push('', `; ${patterns.length} pattern rules RPZ cannot express (it matches names and wildcards only), not enforced by this zone:`, ...patterns);
  }
  return { text: `${out.join('\n')}\n`, apps, domains: blocked.size, patterns: patterns.length };
}

function header(catalogue: Catalogue, watchlist: ReadonlySet<string>, options: RpzOptions): string[] {
  const scope = options.all ? 'every catalogued app' : `apps whose owner sits in a watch-listed country (${[...watchlist].sort().join(', ')})`;
  return [
    `; Wachtpost catalogue ${catalogue.info?.version ?? '(no version)'} as a response policy zone: NXDOMAIN for the names of`,
    `; ${scope}, local rules included.`,
    '; Written by `wachtpost catalogue export --rpz`; do not edit.',
    `$ORIGIN ${options.zone}.`,
    `$TTL ${options.ttl}`,
    `@ SOA localhost. hostmaster.localhost. ${options.serial} 3600 600 86400 ${options.ttl}`,
    '@ NS localhost.',
  ];
}

function records(domain: string, target: string): string[] {
  const name = zoneName(domain);
  return [`${name} CNAME ${target}`, `*.${name} CNAME ${target}`];
}

/** A name in master-file syntax: characters outside letters, digits, hyphen and underscore as \DDD (RFC 1035 5.1). */
function zoneName(domain: string): string {
  return domain.replace(/[^a-z0-9_.-]/g, (c) => `\\${String(c.charCodeAt(0)).padStart(3, '0')}`);
}

/** Comment text on one line, whatever the data holds. */
function comment(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, ' ');
}

function underAny(domain: string, names: ReadonlySet<string>): boolean {
  for (let dot = domain.indexOf('.'); dot >= 0; dot = domain.indexOf('.', dot + 1)) if (names.has(domain.slice(dot + 1))) return true;
  return false;
}

function describe(app: App): string {
  return comment(`${app.id}: ${app.name}, ${app.owner}, ${app.owner_country}`);
}
