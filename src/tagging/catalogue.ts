import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { ConfigError, YamlSource, deepFreeze, type ConfigProblem } from '../config/yaml-source.js';
import { AppSchema, type App } from './catalogue-schema.js';
import type { Owners } from './owners.js';
import { SignatureIndex, toWire } from './signature-index.js';

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
const validate = ajv.compile<App>(AppSchema);

/** The validated catalogue and the index compiled from it. */
export interface Catalogue {
  readonly apps: readonly App[];
  readonly index: SignatureIndex<App>;
  readonly ruleCount: number;
}

/**
 * Loads every `*.yaml` app file in `dir`, validates each against the schema, checks what
 * a schema cannot (names DNS can carry, anchored patterns, no id or rule claimed twice) and
 * compiles the index. Any problem in any file fails the whole load, listing them all, so a
 * broken edit can never half-replace a working catalogue. Given the owners file, every app's
 * owner must be one of its names, with the same country.
 */
export function loadCatalogue(dir: string, owners?: Owners): Catalogue {
  const apps: App[] = [];
  const errors: string[] = [];
  const claims = new Map<string, string>();
  const files = readdirSync(dir).filter((name) => name.endsWith('.yaml')).sort();
  for (const name of files) {
    const file = join(dir, name);
    try {
      const source = YamlSource.parse(readFileSync(file, 'utf8'), file);
      if (!validate(source.value)) throw new ConfigError(source.schemaProblems(validate.errors ?? []), file);
      const app = source.value;
      const problems = ruleProblems(app, source, claims, file);
      if (owners !== undefined) problems.push(...ownerProblems(app, source, owners));
      if (problems.length > 0) throw new ConfigError(problems, file);
      apps.push(app);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      errors.push(error.message);
    }
  }
  if (errors.length > 0) throw new CatalogueError(errors.join('\n'));
  if (apps.length === 0) throw new CatalogueError(`${dir}: no app files (*.yaml)`);

  const index = new SignatureIndex<App>();
  let ruleCount = 0;
  for (const app of apps) {
    for (const rule of app.rules) {
      if ('domain' in rule) index.add(app, rule.domain, rule.domain);
      else index.add(app, rule.pattern, rule.suffix, new RegExp(rule.pattern));
      ruleCount++;
    }
  }
  return { apps: deepFreeze(apps), index, ruleCount };
}

export class CatalogueError extends Error {
  override readonly name = 'CatalogueError';
}

function ownerProblems(app: App, source: YamlSource, owners: Owners): ConfigProblem[] {
  const owner = owners.byName.get(app.owner);
  if (owner === undefined) return [source.locate(['owner'], `owner "${app.owner}" is not in ${owners.file}`)];
  if (owner.country !== app.owner_country) {
    return [source.locate(['owner_country'], `${app.owner_country} differs from ${owner.country}, the country of "${owner.name}" in ${owners.file}`)];
  }
  return [];
}

function ruleProblems(app: App, source: YamlSource, claims: Map<string, string>, file: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const claim = (key: string, path: string[], what: string): void => {
    const holder = claims.get(key);
    if (holder !== undefined) problems.push(source.locate(path, `${what} is already claimed by ${holder}`));
    else claims.set(key, `${app.id} (${file})`);
  };
  claim(`app:${app.id}`, ['id'], `id "${app.id}"`);
  app.rules.forEach((rule, i) => {
    const path = ['rules', String(i)];
    const domain = 'domain' in rule ? rule.domain : rule.suffix;
    try {
      toWire(domain);
    } catch (error) {
      problems.push(source.locate(path, (error as Error).message));
      return;
    }
    if ('pattern' in rule) {
      if (!rule.pattern.startsWith('^') || !rule.pattern.endsWith('$')) problems.push(source.locate([...path, 'pattern'], 'must be anchored with ^ and $'));
      try {
        new RegExp(rule.pattern);
      } catch (error) {
        problems.push(source.locate([...path, 'pattern'], (error as Error).message));
      }
      claim(`pattern:${rule.pattern}`, path, `pattern ${rule.pattern}`);
    } else {
      claim(`domain:${rule.domain.toLowerCase().replace(/\.$/, '')}`, path, `domain ${rule.domain}`);
    }
  });
  return problems;
}
