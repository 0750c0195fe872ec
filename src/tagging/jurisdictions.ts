import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { ConfigError, YamlSource } from '../config/yaml-source.js';

const closed = { additionalProperties: false } as const;

export const JurisdictionsSchema = Type.Object(
  {
    watchlist: Type.Array(
      Type.Object(
        {
          country: Type.String({ description: 'ISO 3166-1 alpha-2', pattern: '^[A-Z]{2}$' }),
          name: Type.String({ minLength: 1 }),
          source: Type.String({ minLength: 8 }),
          verified: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }),
        },
        closed,
      ),
    ),
  },
  closed,
);

const validate = new Ajv({ allErrors: true, strict: true }).compile<Static<typeof JurisdictionsSchema>>(JurisdictionsSchema);

/** The watch-listed countries of a jurisdictions file, validated; ConfigError lists every problem. */
export function loadWatchlist(file: string): ReadonlySet<string> {
  const source = YamlSource.parse(readFileSync(file, 'utf8'), file);
  if (!validate(source.value)) throw new ConfigError(source.schemaProblems(validate.errors ?? []), file);
  return new Set(source.value.watchlist.map((entry) => entry.country));
}
