import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { ConfigError, YamlSource } from '../config/yaml-source.js';

/** What a catalogue release says about itself: `catalogue.yaml` beside `owners.yaml`, or the head of a bundle. */
export const CatalogueInfoFields = {
  version: Type.String({
    description: 'Release date YYYY.MM.DD, with .N for a further release on the same day; later releases compare greater',
    pattern: '^\\d{4}\\.\\d{2}\\.\\d{2}(\\.\\d+)?$',
  }),
  description: Type.String({ description: 'What this catalogue covers, in a sentence', minLength: 1 }),
};

const CatalogueInfoSchema = Type.Object(CatalogueInfoFields, { additionalProperties: false });

export type CatalogueInfo = Static<typeof CatalogueInfoSchema>;

const validate = new Ajv({ allErrors: true, strict: true }).compile<CatalogueInfo>(CatalogueInfoSchema);

/** Loads and validates a catalogue.yaml; ConfigError lists every problem as FILE:LINE. */
export function loadCatalogueInfo(file: string): CatalogueInfo {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError([{ path: '', message: `cannot read the catalogue's version file: ${(error as Error).message}` }], file);
  }
  const source = YamlSource.parse(text, file);
  if (!validate(source.value)) throw new ConfigError(source.schemaProblems(validate.errors ?? []), file);
  return Object.freeze({ version: source.value.version, description: source.value.description });
}

/** Orders two versions: negative when `a` is older than `b`. */
export function compareVersions(a: string, b: string): number {
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const difference = (left[i] ?? 0) - (right[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}
