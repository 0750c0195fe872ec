import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { ConfigError, YamlSource } from '../config/yaml-source.js';
import type { App } from './catalogue-schema.js';
import { SignatureIndex } from './signature-index.js';

const closed = { additionalProperties: false } as const;

export const BypassEndpointsSchema = Type.Object(
  {
    endpoints: Type.Array(
      Type.Object(
        {
          host: Type.String({ minLength: 1 }),
          operator: Type.String({ minLength: 1 }),
          source: Type.String({ minLength: 8 }),
          verified: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }),
        },
        closed,
      ),
    ),
  },
  closed,
);

/** A resolver a phone could use instead of the network's: public DoH, or an app's own HTTPDNS. */
export interface BypassEndpoint {
  readonly host: string;
  readonly operator: string;
  /** The catalogued app whose own endpoint this is, or null for public resolvers. */
  readonly app: App | null;
}

const validate = new Ajv({ allErrors: true, strict: true }).compile<Static<typeof BypassEndpointsSchema>>(BypassEndpointsSchema);

/**
 * Indexes the public endpoints of `file` together with the catalogue's vendor endpoints;
 * a name at or below any of them is a bypass attempt. ConfigError lists every problem.
 */
export function loadBypassEndpoints(file: string, apps: readonly App[]): SignatureIndex<BypassEndpoint> {
  const source = YamlSource.parse(readFileSync(file, 'utf8'), file);
  if (!validate(source.value)) throw new ConfigError(source.schemaProblems(validate.errors ?? []), file);
  const index = new SignatureIndex<BypassEndpoint>();
  const add = (endpoint: BypassEndpoint, path: string[]): void => {
    try {
      index.add(endpoint, endpoint.host, endpoint.host);
    } catch (error) {
      throw new ConfigError([source.locate(path, (error as Error).message)], file);
    }
  };
  source.value.endpoints.forEach((entry, i) => add({ host: entry.host, operator: entry.operator, app: null }, ['endpoints', String(i), 'host']));
  for (const app of apps) {
    for (const endpoint of app.dns_endpoints) index.add({ host: endpoint.host, operator: app.owner, app }, endpoint.host, endpoint.host);
  }
  return index;
}
