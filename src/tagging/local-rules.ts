import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { YAMLMap, YAMLSeq, isMap, isSeq, parseDocument, type Document } from 'yaml';
import { ConfigError, YamlSource, deepFreeze, type ConfigProblem } from '../config/yaml-source.js';
import { writeFileAtomically } from './atomic-file.js';
import { AppId, DomainMatch, LocalAppSchema, LocalProvenance, PatternMatch, type App } from './catalogue-schema.js';
import { Claims, NO_ADDITIONS, appProblems, claimKey, describeClaim, describeRule, ruleProblems, type AddedRule, type LocalAdditions, type ShippedApps } from './catalogue.js';

const closed = { additionalProperties: false } as const;

const LocalRuleSchema = Type.Union([
  Type.Object({ app: AppId, ...DomainMatch, ...LocalProvenance }, closed),
  Type.Object({ app: AppId, ...PatternMatch, ...LocalProvenance }, closed),
]);

/** The operator's file: apps of their own and extra rules for any app, kept apart from the catalogue so updates never touch it. */
export const LocalRulesFileSchema = Type.Object(
  {
    apps: Type.Array(LocalAppSchema, { description: 'Apps the catalogue does not have, in the schema of geo/apps/*.yaml', default: [] }),
    rules: Type.Array(LocalRuleSchema, { description: 'Extra rules, each for one app of the catalogue or of this file', default: [] }),
  },
  closed,
);

/** One extra rule: the app's id and a domain, or a pattern with its suffix. */
export type LocalRule = Static<typeof LocalRuleSchema>;

const validate = new Ajv({ allErrors: true, useDefaults: true, strict: true }).compile<Static<typeof LocalRulesFileSchema>>(LocalRulesFileSchema);

/** Written at the top of a local rules file this module creates. */
const HEADER = `# Local rules: this installation's own apps and extra rules for catalogued ones. Catalogue
# updates never touch this file. Format: geo/README.md ("Local rules").
`;

/**
 * Loads the local rules file and checks it against the catalogue's own apps: every rule's
 * app must exist (in the catalogue or under this file's apps), no local app may reuse a
 * catalogue id, and no domain or pattern the catalogue gives one app may be claimed for
 * another. A rule the app already has is redundant, not an error (a catalogue update may
 * adopt a local rule). A file that does not exist yet adds nothing; it is created by the
 * first addition. ConfigError lists every problem as FILE:LINE.
 */
export function loadLocalRules(file: string, shipped: ShippedApps): LocalAdditions {
  const text = readIfPresent(file);
  return text === null ? NO_ADDITIONS : parseLocalRules(text, file, shipped);
}

/** As loadLocalRules, for the file's text. */
export function parseLocalRules(text: string, file: string, shipped: ShippedApps): LocalAdditions {
  const source = YamlSource.parse(text, file);
  if (!validate(source.value)) throw new ConfigError(source.schemaProblems(validate.errors ?? []), file);
  const { apps, rules } = source.value;
  const claims = new Claims(shipped.claims);
  const problems: ConfigProblem[] = [];
  apps.forEach((app, i) => problems.push(...appProblems(app, source, ['apps', String(i)], claims, 'local', shipped.owners)));
  const byId = new Map<string, App>([...shipped.apps, ...apps].map((app) => [app.id, app]));
  const added: AddedRule[] = [];
  let redundant = 0;
  rules.forEach(({ app: id, ...rule }, i) => {
    const path = ['rules', String(i)];
    const app = byId.get(id);
    if (app === undefined) {
      problems.push(source.locate([...path, 'app'], `${describeRule(rule)} is for app "${id}", which is neither in the catalogue nor under apps in this file`));
      return;
    }
    const invalid = ruleProblems(rule, source, path);
    problems.push(...invalid);
    if (invalid.length > 0) return;
    const holder = claims.take(claimKey(rule), { app: id, where: file, origin: 'local' });
    if (holder === null) added.push({ app, rule });
    else if (holder.app === id) redundant++;
    else problems.push(source.locate(path, `${describeRule(rule)} for ${id} is already claimed by ${describeClaim(holder)}`));
  });
  if (problems.length > 0) throw new ConfigError(problems, file);
  return deepFreeze({ apps, rules: added, redundant });
}

/** What to add to a local rules file. */
export interface LocalAdditionsInput {
  apps?: readonly App[];
  rules?: readonly LocalRule[];
}

/**
 * Appends apps and rules to the local rules file in one atomic replacement, keeping its
 * comments and order (creating it, with a header comment, if missing). The result is
 * checked against `shipped` first, so nothing is written that the server would refuse.
 * One writer at a time: two concurrent additions may lose one of them.
 */
export function addToLocalRules(file: string, input: LocalAdditionsInput, shipped: ShippedApps): LocalAdditions {
  const before = readIfPresent(file) ?? HEADER;
  YamlSource.parse(before, file); // a file that is not YAML is reported at its line, not overwritten
  const doc: Document = parseDocument(before);
  if (!isMap(doc.contents)) doc.contents = new YAMLMap();
  for (const [key, items] of [
    ['apps', input.apps ?? []],
    ['rules', input.rules ?? []],
  ] as const) {
    if (items.length === 0) continue;
    const existing = doc.get(key, true);
    const list = isSeq(existing) ? existing : new YAMLSeq();
    if (list !== existing) doc.set(key, list);
    for (const item of items) list.add(doc.createNode(item));
  }
  const text = doc.toString({ lineWidth: 0 });
  const result = parseLocalRules(text, file, shipped);
  writeFileAtomically(file, text);
  return result;
}

/** Appends one rule (see addToLocalRules): how a discovered name becomes a rule. */
export function appendLocalRule(file: string, rule: LocalRule, shipped: ShippedApps): LocalAdditions {
  return addToLocalRules(file, { rules: [rule] }, shipped);
}

function readIfPresent(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConfigError([{ path: '', message: `cannot read: ${(error as Error).message}` }], file);
  }
}
