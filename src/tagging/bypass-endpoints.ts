import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { ConfigError, YamlSource, deepFreeze, type ConfigProblem } from '../config/yaml-source.js';
import type { App } from './catalogue-schema.js';
import { SignatureIndex, toWire } from './signature-index.js';

const closed = { additionalProperties: false } as const;

/** A public DNS-over-HTTPS resolver, as geo/doh-endpoints.yaml and catalogue bundles list them. */
export const PublicEndpointSchema = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    operator: Type.String({ minLength: 1 }),
    source: Type.String({ minLength: 8 }),
    verified: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }),
  },
  closed,
);

export type PublicEndpoint = Static<typeof PublicEndpointSchema>;

const BypassEndpointsSchema = Type.Object({ endpoints: Type.Array(PublicEndpointSchema) }, closed);

/** A resolver a phone could use instead of the network's: public DoH, or an app's own HTTPDNS. */
export interface BypassEndpoint {
  readonly host: string;
  readonly operator: string;
  /** The catalogued app whose own endpoint this is, or null for public resolvers. */
  readonly app: App | null;
}

const validate = new Ajv({ allErrors: true, strict: true }).compile<Static<typeof BypassEndpointsSchema>>(BypassEndpointsSchema);

/** Loads a file of public DoH resolvers; ConfigError lists every problem. */
export function loadPublicEndpoints(file: string): readonly PublicEndpoint[] {
  const source = YamlSource.parse(readFileSync(file, 'utf8'), file);
  if (!validate(source.value)) throw new ConfigError(source.schemaProblems(validate.errors ?? []), file);
  const problems = endpointProblems(source.value.endpoints, source, ['endpoints']);
  if (problems.length > 0) throw new ConfigError(problems, file);
  return deepFreeze(source.value.endpoints);
}

/** Hosts DNS cannot carry, in a schema-valid list found at `path` in `source`. */
export function endpointProblems(endpoints: readonly PublicEndpoint[], source: YamlSource, path: readonly string[]): ConfigProblem[] {
  return endpoints.flatMap((endpoint, i) => {
    try {
      toWire(endpoint.host);
      return [];
    } catch (error) {
      return [source.locate([...path, String(i), 'host'], (error as Error).message)];
    }
  });
}

/**
 * Indexes the public endpoints together with the catalogue's vendor endpoints; a name at
 * or below any of them is a bypass attempt.
 */
export function indexBypassEndpoints(endpoints: readonly PublicEndpoint[], apps: readonly App[]): SignatureIndex<BypassEndpoint> {
  const index = new SignatureIndex<BypassEndpoint>();
  for (const entry of endpoints) index.add({ host: entry.host, operator: entry.operator, app: null }, entry.host, entry.host);
  for (const app of apps) {
    for (const endpoint of app.dns_endpoints) index.add({ host: endpoint.host, operator: app.owner, app }, endpoint.host, endpoint.host);
  }
  return index;
}
