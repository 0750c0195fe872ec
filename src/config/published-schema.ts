import { ConfigSchema } from './schema.js';

/**
 * The JSON Schema editors use to complete and check configuration files; the copy in
 * deploy/wachtpost.schema.json is this text, and a test keeps the two equal. Every field
 * has a default, so nothing is `required` in a file: the loader fills defaults before it
 * validates, and editors should not demand what may be left out.
 */
export function publishedSchema(): string {
  const schema = { $schema: 'http://json-schema.org/draft-07/schema#', ...(withoutRequired(ConfigSchema) as object) };
  return `${JSON.stringify(schema, null, 2)}\n`;
}

function withoutRequired(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutRequired);
  if (typeof node !== 'object' || node === null) return node;
  return Object.fromEntries(Object.entries(node).filter(([key]) => key !== 'required').map(([key, value]) => [key, withoutRequired(value)]));
}
