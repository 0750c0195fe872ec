import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { CATEGORIES, type App } from '../tagging/catalogue-schema.js';
import { compileCatalogue, type Catalogue } from '../tagging/catalogue.js';
import { loadRelease } from '../tagging/detection.js';
import { parseDomainList, type ListedName } from '../tagging/domain-lists.js';
import { addToLocalRules, loadLocalRules, type LocalRule } from '../tagging/local-rules.js';
import { CommandError, count, parseCommand, UsageError } from './usage.js';

/** A name to add, and where it was read. */
interface Found extends ListedName {
  readonly file: string;
}

/**
 * `wachtpost catalogue import --app ID --owner-country CC [--name NAME] [--owner OWNER]
 * [--category CAT] [--source TEXT] [--dry-run] [--config FILE] FILE...`: turns the block
 * lists an operator already has into local rules for one app (a new local app when ID is
 * not catalogued). Any line that cannot become a rule refuses the whole import, listing
 * every such line as FILE:LINE. Names the app already covers are left out; a name another
 * app claims is refused; a name below another app's rule is taken from it (the most
 * specific rule wins) with a warning.
 */
export function importCommand(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): number {
  const { values, positionals: files } = parseCommand(args, {
    app: { type: 'string' },
    'owner-country': { type: 'string' },
    name: { type: 'string' },
    owner: { type: 'string' },
    category: { type: 'string' },
    source: { type: 'string' },
    'dry-run': { type: 'boolean' },
    config: { type: 'string', short: 'c' },
  });
  const id = values.app;
  const country = values['owner-country'];
  if (id === undefined || country === undefined || files.length === 0) throw new UsageError('import needs --app, --owner-country and at least one FILE');
  if (!/^[a-z0-9][a-z0-9-]*$/.test(id)) throw new UsageError(`--app "${id}": lower-case letters, digits and hyphens`);
  if (!/^[A-Z]{2}$/.test(country)) throw new UsageError(`--owner-country "${country}": an ISO 3166-1 alpha-2 code such as CN`);
  if (values.category !== undefined && !(CATEGORIES as readonly string[]).includes(values.category)) {
    throw new UsageError(`--category "${values.category}": one of ${CATEGORIES.join(', ')}`);
  }
  const config = loadConfig(values.config === undefined ? {} : { file: values.config });
  const target = config.detection.local_rules;
  if (target === '') throw new CommandError('detection.local_rules is empty: set it to the file local rules are kept in, e.g. /var/lib/wachtpost/local-rules.yaml');

  const release = loadRelease(config.detection);
  const catalogue = compileCatalogue(release, loadLocalRules(target, release), release.info);
  const existing = catalogue.apps.find((app) => app.id === id) ?? null;
  if (existing !== null) checkSameApp(existing, { country, name: values.name, owner: values.owner, category: values.category });

  const found = readLists(files, err);
  const chosen = choose(found, id, catalogue, err);
  const verified = new Date().toISOString().slice(0, 10);
  const sourceOf = (entry: Found) => values.source ?? `imported from ${entry.file}:${entry.line}`;
  const rules = chosen.map((entry) => ({ domain: entry.name, source: sourceOf(entry), verified }));
  const what = existing === null ? `new local app ${id}` : `${id}`;
  if (rules.length === 0) {
    out.write(`nothing to add: ${what} already covers every name\n`);
    return 0;
  }
  const leftOut = found.length - chosen.length;
  const summary = `${count(rules.length, 'rule')} for ${what} to ${target}${leftOut === 0 ? '' : ` (${count(leftOut, 'name')} left out: repeated, or covered already)`}`;
  if (values['dry-run'] === true) {
    out.write(`would add ${summary}:\n${chosen.map((entry) => `  ${entry.name}  (${sourceOf(entry)})\n`).join('')}`);
    return 0;
  }
  if (existing === null) {
    const app: App = { id, name: values.name ?? id, owner: values.owner ?? 'unknown', owner_country: country, category: (values.category ?? 'other') as App['category'], rules, dns_endpoints: [] };
    addToLocalRules(target, { apps: [app] }, release);
  } else {
    addToLocalRules(target, { rules: rules.map((rule): LocalRule => ({ app: id, ...rule })) }, release);
  }
  out.write(`added ${summary}\n`);
  return 0;
}

/** The flags may only repeat what the catalogue says of an existing app. */
function checkSameApp(app: App, given: { country: string; name?: string | undefined; owner?: string | undefined; category?: string | undefined }): void {
  const differs: string[] = [];
  if (given.country !== app.owner_country) differs.push(`owner country ${app.owner_country}, not ${given.country}`);
  if (given.name !== undefined && given.name !== app.name) differs.push(`name "${app.name}"`);
  if (given.owner !== undefined && given.owner !== app.owner) differs.push(`owner "${app.owner}"`);
  if (given.category !== undefined && given.category !== app.category) differs.push(`category ${app.category}`);
  if (differs.length > 0) throw new CommandError(`${app.id} is catalogued with ${differs.join(', ')}: nothing imported`);
}

/** Every name in every file; any problem line in any file refuses the import. */
function readLists(files: readonly string[], err: NodeJS.WritableStream): Found[] {
  const found: Found[] = [];
  const problems: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      problems.push(`${file}: cannot read: ${(error as Error).message}`);
      continue;
    }
    const list = parseDomainList(text);
    problems.push(...list.problems.map((problem) => `${file}:${problem.line}: ${problem.message}`));
    found.push(...list.names.map((entry) => ({ ...entry, file })));
    const skipped = list.skipped === 0 ? '' : `, ${count(list.skipped, 'local host name')} skipped`;
    err.write(`${file}: ${count(list.names.length, 'name')} (${list.format === 'rpz' ? 'RPZ zone' : 'hosts, domain or AdGuard lines'})${skipped}\n`);
  }
  if (problems.length > 0) throw new CommandError(`${problems.join('\n')}\nnothing imported`);
  return found;
}

/**
 * The names that add something to app `id`: once each, none below another imported name
 * or a rule the app already has. A name another app claims exactly refuses the import.
 */
function choose(found: readonly Found[], id: string, catalogue: Catalogue, err: NodeJS.WritableStream): Found[] {
  const unique = new Map<string, Found>();
  for (const entry of found) if (!unique.has(entry.name)) unique.set(entry.name, entry);
  const conflicts: string[] = [];
  const chosen: Found[] = [];
  for (const entry of unique.values()) {
    const labels = entry.name.split('.');
    if (labels.slice(1).some((_, i) => unique.has(labels.slice(i + 1).join('.')))) continue;
    const match = catalogue.index.matchName(entry.name);
    if (match?.app.id === id) continue;
    const where = `${entry.file}:${entry.line}`;
    if (match !== null && match.pattern === null && match.rule.toLowerCase().replace(/\.$/, '') === entry.name) {
      conflicts.push(`${where}: ${entry.name} is already a rule of ${match.app.id} (${match.origin})`);
      continue;
    }
    if (match !== null) err.write(`${where}: warning: ${entry.name} is under rule "${match.rule}" of ${match.app.id}; it becomes ${id}'s (the most specific rule wins)\n`);
    chosen.push(entry);
  }
  if (conflicts.length > 0) throw new CommandError(`${conflicts.join('\n')}\nnothing imported`);
  return chosen;
}
