import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { ConfigError, YamlSource, deepFreeze, type ConfigProblem } from '../config/yaml-source.js';
import type { PublicEndpoint } from './bypass-endpoints.js';
import type { CatalogueInfo } from './catalogue-info.js';
import { AppSchema, type App, type AppRule } from './catalogue-schema.js';
import type { Owners } from './owners.js';
import { SignatureIndex, normaliseName, toWire, type RuleOrigin } from './signature-index.js';

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
const validate = ajv.compile<App>(AppSchema);

/** The validated catalogue and the index compiled from it. */
export interface Catalogue {
  /** Version and description; null for a bare directory of app files (tests, tools). */
  readonly info: CatalogueInfo | null;
  /** The catalogue's own apps, then the operator's. */
  readonly apps: readonly App[];
  readonly index: SignatureIndex<App>;
  /** Rules in the index, local ones included. */
  readonly ruleCount: number;
  /** What the local rules file added. */
  readonly local: LocalAdditions;
}

/** An extra rule for an app, as the local rules file gives it. */
export interface AddedRule {
  readonly app: App;
  readonly rule: AppRule;
}

/** The operator's own apps and extra rules, validated against the catalogue they extend. */
export interface LocalAdditions {
  readonly apps: readonly App[];
  /** Extra rules to index; redundant ones are left out. */
  readonly rules: readonly AddedRule[];
  /** Rules the app already has (the catalogue may have adopted them since): harmless, indexed once. */
  readonly redundant: number;
}

export const NO_ADDITIONS: LocalAdditions = Object.freeze({ apps: Object.freeze([]), rules: Object.freeze([]), redundant: 0 });

/**
 * The catalogue's own apps ("shipped": in geo/apps or an installed bundle, as opposed to
 * local), with who claims which id, domain and pattern, so local additions can be checked
 * against them, and the owners they were checked against.
 */
export interface ShippedApps {
  readonly apps: readonly App[];
  readonly claims: Claims;
  readonly owners?: Owners;
}

/** A catalogue as published, from a directory laid out as geo/ or from a signed bundle. */
export interface CatalogueRelease extends ShippedApps {
  readonly owners: Owners;
  readonly info: CatalogueInfo;
  /** Public DoH resolvers a bundle carries; null for a directory (geo/doh-endpoints.yaml or detection.bypass_endpoints apply). */
  readonly endpoints: readonly PublicEndpoint[] | null;
}

/** Who holds an app id, a domain or a pattern. */
export interface Claim {
  readonly app: string;
  /** The file it was claimed in. */
  readonly where: string;
  readonly origin: RuleOrigin;
}

/** One app per id, per domain and per pattern: the first claim holds, a later one is told who holds it. */
export class Claims {
  private readonly held: Map<string, Claim>;

  /** A fresh set, or a copy of `from` that can grow without changing it. */
  constructor(from?: Claims) {
    this.held = new Map(from?.held);
  }

  /** The earlier holder of `key`, or null after recording `claim` as its holder. */
  take(key: string, claim: Claim): Claim | null {
    const holder = this.held.get(key);
    if (holder !== undefined) return holder;
    this.held.set(key, claim);
    return null;
  }
}

/**
 * Loads every `*.yaml` app file in `dir`, validates each against the schema and checks what
 * a schema cannot (see appProblems). Any problem in any file fails the whole load, listing
 * them all, so a broken edit can never half-replace a working catalogue. Given the owners
 * file, every app's owner must be one of its names, with the same country.
 */
export function loadShippedApps(dir: string, owners?: Owners): ShippedApps {
  const apps: App[] = [];
  const errors: string[] = [];
  const claims = new Claims();
  const files = readdirSync(dir).filter((name) => name.endsWith('.yaml')).sort();
  for (const name of files) {
    const file = join(dir, name);
    try {
      const source = YamlSource.parse(readFileSync(file, 'utf8'), file);
      if (!validate(source.value)) throw new ConfigError(source.schemaProblems(validate.errors ?? []), file);
      const problems = appProblems(source.value, source, [], claims, 'shipped', owners);
      if (problems.length > 0) throw new ConfigError(problems, file);
      apps.push(source.value);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      errors.push(error.message);
    }
  }
  if (errors.length > 0) throw new CatalogueError(errors.join('\n'));
  if (apps.length === 0) throw new CatalogueError(`${dir}: no app files (*.yaml)`);
  return { apps: deepFreeze(apps), claims, ...(owners === undefined ? {} : { owners }) };
}

/** The catalogue of the app files in `dir` alone, without local additions. */
export function loadCatalogue(dir: string, owners?: Owners): Catalogue {
  return compileCatalogue(loadShippedApps(dir, owners));
}

/** Compiles the index over the catalogue's apps and the local additions, each rule marked with its origin. */
export function compileCatalogue(shipped: ShippedApps, local: LocalAdditions = NO_ADDITIONS, info: CatalogueInfo | null = null): Catalogue {
  const index = new SignatureIndex<App>();
  let ruleCount = 0;
  const add = (app: App, rule: AppRule, origin: RuleOrigin): void => {
    if ('domain' in rule) index.add(app, rule.domain, rule.domain, null, origin);
    else index.add(app, rule.pattern, rule.suffix, new RegExp(rule.pattern), origin);
    ruleCount++;
  };
  for (const app of shipped.apps) for (const rule of app.rules) add(app, rule, 'shipped');
  for (const app of local.apps) for (const rule of app.rules) add(app, rule, 'local');
  for (const { app, rule } of local.rules) add(app, rule, 'local');
  return { info, apps: Object.freeze([...shipped.apps, ...local.apps]), index, ruleCount, local };
}

export class CatalogueError extends Error {
  override readonly name = 'CatalogueError';
}

/**
 * What a schema cannot check of one schema-valid app at `path` in `source`: names DNS can
 * carry (rules and HTTPDNS hosts), anchored patterns, no id, domain or pattern claimed
 * twice, and (given the owners file) an owner it lists, with the same country. An
 * operator's own (local) app may name an owner the file does not list: its country is then
 * the operator's word.
 */
export function appProblems(app: App, source: YamlSource, path: string[], claims: Claims, origin: RuleOrigin, owners?: Owners): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const claim: Claim = { app: app.id, where: source.file, origin };
  const idHolder = claims.take(`app:${app.id}`, claim);
  if (idHolder !== null) problems.push(source.locate([...path, 'id'], `id "${app.id}" is already claimed by ${describeClaim(idHolder)}`));
  app.rules.forEach((rule, i) => {
    const rulePath = [...path, 'rules', String(i)];
    const invalid = ruleProblems(rule, source, rulePath);
    problems.push(...invalid);
    if (invalid.length > 0) return;
    const holder = claims.take(claimKey(rule), claim);
    if (holder !== null) problems.push(source.locate(rulePath, `${describeRule(rule)} is already claimed by ${describeClaim(holder)}`));
  });
  app.dns_endpoints.forEach((endpoint, i) => {
    try {
      toWire(endpoint.host);
    } catch (error) {
      problems.push(source.locate([...path, 'dns_endpoints', String(i), 'host'], (error as Error).message));
    }
  });
  if (owners !== undefined) problems.push(...ownerProblems(app, source, path, owners, origin));
  return problems;
}

/** A name DNS can carry; for patterns, anchored at both ends and compilable. */
export function ruleProblems(rule: AppRule, source: YamlSource, path: string[]): ConfigProblem[] {
  try {
    toWire('domain' in rule ? rule.domain : rule.suffix);
  } catch (error) {
    return [source.locate(path, (error as Error).message)];
  }
  if ('domain' in rule) return [];
  const at = [...path, 'pattern'];
  if (!rule.pattern.startsWith('^') || !rule.pattern.endsWith('$')) return [source.locate(at, 'must be anchored with ^ and $')];
  try {
    new RegExp(rule.pattern);
  } catch (error) {
    return [source.locate(at, (error as Error).message)];
  }
  return [];
}

/** What a rule claims: a domain (in normal form) or a pattern belongs to one app only. */
export function claimKey(rule: AppRule): string {
  return 'domain' in rule ? `domain:${normaliseName(rule.domain)}` : `pattern:${rule.pattern}`;
}

export function describeRule(rule: AppRule): string {
  return 'domain' in rule ? `domain ${rule.domain}` : `pattern ${rule.pattern}`;
}

export function describeClaim(claim: Claim): string {
  return `${claim.app} (${claim.where})`;
}

function ownerProblems(app: App, source: YamlSource, path: string[], owners: Owners, origin: RuleOrigin): ConfigProblem[] {
  const owner = owners.byName.get(app.owner);
  if (owner === undefined) {
    return origin === 'local' ? [] : [source.locate([...path, 'owner'], `owner "${app.owner}" is not in ${owners.file}`)];
  }
  if (owner.country !== app.owner_country) {
    return [source.locate([...path, 'owner_country'], `${app.owner_country} differs from ${owner.country}, the country of "${owner.name}" in ${owners.file}`)];
  }
  return [];
}
