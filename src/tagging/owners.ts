import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { ConfigError, YamlSource, deepFreeze, type ConfigProblem } from '../config/yaml-source.js';
import { OwnersFileSchema, type Owner } from './owners-schema.js';

const validate = new Ajv({ allErrors: true, useDefaults: true, strict: true }).compile<{ owners: Owner[] }>(OwnersFileSchema);

/** The owners file, validated: every owner once, every network claimed by one owner only. */
export interface Owners {
  readonly file: string;
  readonly list: readonly Owner[];
  readonly byName: ReadonlyMap<string, Owner>;
  readonly byAsn: ReadonlyMap<number, Owner>;
}

/** Loads and validates an owners file; ConfigError lists every problem as FILE:LINE. */
export function loadOwners(file: string): Owners {
  const source = YamlSource.parse(readFileSync(file, 'utf8'), file);
  if (!validate(source.value)) throw new ConfigError(source.schemaProblems(validate.errors ?? []), file);
  return indexOwners(source.value.owners, source, ['owners']);
}

/** Indexes a schema-valid list of owners found at `path` in `source`, refusing a name or a network listed twice. */
export function indexOwners(owners: Owner[], source: YamlSource, path: readonly string[]): Owners {
  const list = deepFreeze(owners);
  const byName = new Map<string, Owner>();
  const byAsn = new Map<number, Owner>();
  const problems: ConfigProblem[] = [];
  list.forEach((owner, i) => {
    const claimed = byName.get(owner.name);
    if (claimed !== undefined) problems.push(source.locate([...path, String(i), 'name'], `owner "${owner.name}" is listed twice`));
    else byName.set(owner.name, owner);
    owner.asns.forEach((network, j) => {
      const holder = byAsn.get(network.asn);
      if (holder !== undefined) problems.push(source.locate([...path, String(i), 'asns', String(j), 'asn'], `AS${network.asn} is already claimed by ${holder.name}`));
      else byAsn.set(network.asn, owner);
    });
  });
  if (problems.length > 0) throw new ConfigError(problems, source.file);
  return { file: source.file, list, byName, byAsn };
}
