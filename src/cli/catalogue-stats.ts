import { loadConfig } from '../config/load.js';
import type { Catalogue } from '../tagging/catalogue.js';
import { loadConfiguredCatalogue } from '../tagging/detection.js';
import { loadWatchlist } from '../tagging/jurisdictions.js';
import { SHIPPED } from '../tagging/shipped-data.js';
import { count, parseCommand, UsageError } from './usage.js';

export interface CountryCounts {
  country: string;
  watchlisted: boolean;
  apps: number;
  rules: number;
  owners: number;
  /** Of those: apps and rules from the local rules file. */
  local_apps: number;
  local_rules: number;
}

export interface CatalogueStats {
  version: string | null;
  description: string | null;
  /** Local rules the catalogue already has, left in the file. */
  redundant_local_rules: number;
  countries: CountryCounts[];
  total: Omit<CountryCounts, 'country' | 'watchlisted'>;
}

/** Apps, rules and distinct owners per owner country, watch-listed countries first, then by apps. */
export function catalogueStats(catalogue: Catalogue, watchlist: ReadonlySet<string>): CatalogueStats {
  const byCountry = new Map<string, CountryCounts & { ownerNames: Set<string> }>();
  const counts = (country: string) => {
    let entry = byCountry.get(country);
    if (entry === undefined) {
      entry = { country, watchlisted: watchlist.has(country), apps: 0, rules: 0, owners: 0, local_apps: 0, local_rules: 0, ownerNames: new Set() };
      byCountry.set(country, entry);
    }
    return entry;
  };
  const localApps = new Set(catalogue.local.apps);
  for (const app of catalogue.apps) {
    const entry = counts(app.owner_country);
    const local = localApps.has(app);
    entry.apps++;
    entry.rules += app.rules.length;
    entry.local_apps += local ? 1 : 0;
    entry.local_rules += local ? app.rules.length : 0;
    entry.ownerNames.add(app.owner);
  }
  for (const { app } of catalogue.local.rules) {
    const entry = counts(app.owner_country);
    entry.rules++;
    entry.local_rules++;
  }
  const countries = [...byCountry.values()]
    .map(({ ownerNames, ...entry }) => ({ ...entry, owners: ownerNames.size }))
    .sort((a, b) => Number(b.watchlisted) - Number(a.watchlisted) || b.apps - a.apps || a.country.localeCompare(b.country));
  const sum = (key: keyof CatalogueStats['total']) => countries.reduce((total, entry) => total + entry[key], 0);
  return {
    version: catalogue.info?.version ?? null,
    description: catalogue.info?.description ?? null,
    redundant_local_rules: catalogue.local.redundant,
    countries,
    total: { apps: sum('apps'), rules: sum('rules'), owners: sum('owners'), local_apps: sum('local_apps'), local_rules: sum('local_rules') },
  };
}

/** `wachtpost catalogue stats [--config FILE] [--json]`. */
export function statsCommand(args: string[], out: NodeJS.WritableStream): number {
  const { values, positionals } = parseCommand(args, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const config = loadConfig(values.config === undefined ? {} : { file: values.config });
  const stats = catalogueStats(loadConfiguredCatalogue(config.detection), loadWatchlist(config.detection.jurisdictions || SHIPPED.jurisdictions));
  out.write(values.json ? `${JSON.stringify(stats, null, 2)}\n` : describe(stats, config.detection.local_rules));
  return 0;
}

function describe(stats: CatalogueStats, localFile: string): string {
  const lines = [`catalogue ${stats.version ?? '(no version)'}: ${stats.description ?? ''}`.trimEnd()];
  if (localFile !== '') {
    const { local_apps: apps, local_rules: rules } = stats.total;
    const redundant = stats.redundant_local_rules === 0 ? '' : `, ${stats.redundant_local_rules} redundant (the catalogue has them now)`;
    lines.push(`local rules: ${localFile} (${count(apps, 'app')}, ${count(rules, 'rule')}${redundant})`);
  }
  lines.push('');
  const row = (cells: (string | number)[]) => cells.map((cell, i) => (i < 2 ? String(cell).padEnd(i === 0 ? 8 : 13) : String(cell).padStart(7))).join('').trimEnd();
  lines.push(row(['country', 'watch-listed', 'apps', 'rules', 'owners', 'local']));
  for (const entry of stats.countries) {
    lines.push(row([entry.country, entry.watchlisted ? 'yes' : 'no', entry.apps, entry.rules, entry.owners, entry.local_rules]));
  }
  const { total } = stats;
  lines.push(row(['total', '', total.apps, total.rules, total.owners, total.local_rules]));
  return `${lines.join('\n')}\n`;
}
