import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import ipaddr from 'ipaddr.js';
import { LineCounter, isMap, isScalar, parseDocument, type Document } from 'yaml';
import { parseHostPort } from './address.js';
import { ConfigSchema, type Config } from './schema.js';

/** Command-line flags that take precedence over the file. */
export interface ConfigOverrides {
  listen?: string[];
  upstream?: string[];
  http?: string;
  mode?: 'monitor' | 'enforce';
  workers?: number;
}

export interface ConfigProblem {
  /** Dotted field path, e.g. "dns.udp_size" ("" for the file as a whole). */
  path: string;
  /** 1-based line in the file, when the problem sits in it. */
  line?: number;
  message: string;
}

/** Every problem found in a configuration, not only the first. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    readonly problems: ConfigProblem[],
    readonly file = '<config>',
  ) {
    super(problems.map((problem) => formatProblem(file, problem)).join('\n'));
  }
}

export function formatProblem(file: string, problem: ConfigProblem): string {
  const where = problem.line === undefined ? file : `${file}:${problem.line}`;
  return `${where}: ${problem.path || '(file)'}: ${problem.message}`;
}

export interface LoadOptions {
  file?: string;
  /** The file's text, instead of reading `file` (tests, and check-config after reading). */
  text?: string;
  overrides?: ConfigOverrides;
  resolvConfPath?: string;
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true });
const validate = ajv.compile<Config>(ConfigSchema);

/** Flag overrides, as the field paths they replace (so their errors are not blamed on the file). */
const OVERRIDE_PATHS: Record<keyof ConfigOverrides, string[]> = {
  listen: ['dns', 'listen'],
  upstream: ['upstream', 'servers'],
  http: ['http', 'listen'],
  mode: ['mode'],
  workers: ['dns', 'workers'],
};

/**
 * YAML → defaults → flag overrides → schema validation → semantic checks → resolv.conf
 * for empty upstreams → deep freeze. Throws ConfigError listing every problem with its line.
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const file = options.file ?? '<config>';
  let text = options.text;
  if (text === undefined && options.file !== undefined) {
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (error) {
      throw new ConfigError([{ path: '', message: `cannot read: ${(error as Error).message}` }], file);
    }
  }
  const lines = new LineCounter();
  const doc = parseDocument(text ?? '', { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((error) => ({ path: '', line: lines.linePos(error.pos[0]).line, message: `YAML: ${error.message.split('\n')[0]}` })),
      file,
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError([{ path: '', line: 1, message: 'must be a mapping of settings' }], file);
  }
  const overridden = applyOverrides(raw as Record<string, unknown>, options.overrides ?? {});

  const problems: ConfigProblem[] = [];
  if (!validate(raw)) {
    for (const error of validate.errors ?? []) problems.push(schemaProblem(error, doc, lines, overridden));
  } else {
    problems.push(...semanticProblems(raw, doc, lines, overridden));
  }
  if (problems.length > 0) throw new ConfigError(dedupe(problems), file);

  const config = raw as Config;
  if (config.upstream.servers.length === 0) {
    config.upstream.servers = systemNameservers(options.resolvConfPath ?? '/etc/resolv.conf', file);
  }
  return deepFreeze(config);
}

function applyOverrides(raw: Record<string, unknown>, overrides: ConfigOverrides): Set<string> {
  const overridden = new Set<string>();
  for (const [key, value] of Object.entries(overrides) as Array<[keyof ConfigOverrides, unknown]>) {
    if (value === undefined) continue;
    const path = OVERRIDE_PATHS[key];
    let target = raw;
    for (const step of path.slice(0, -1)) {
      if (typeof target[step] !== 'object' || target[step] === null) target[step] = {};
      target = target[step] as Record<string, unknown>;
    }
    target[path.at(-1)!] = value;
    overridden.add(path.join('.'));
  }
  return overridden;
}

function schemaProblem(error: ErrorObject, doc: Document, lines: LineCounter, overridden: Set<string>): ConfigProblem {
  const path = error.instancePath.split('/').slice(1).map(decodePointer);
  if (error.keyword === 'additionalProperties') {
    const key = String(error.params.additionalProperty);
    return locate([...path, key], `unknown setting "${key}"`, doc, lines, overridden, true);
  }
  let message = error.message ?? 'is invalid';
  if (error.keyword === 'anyOf' || error.keyword === 'const') return locate(path, allowedValues(path), doc, lines, overridden);
  if (error.keyword === 'enum') message = `must be one of ${(error.params.allowedValues as unknown[]).join(', ')}`;
  return locate(path, message, doc, lines, overridden);
}

function allowedValues(path: string[]): string {
  if (path.join('.') === 'mode') return 'must be monitor or enforce';
  if (path.join('.') === 'log.level') return 'must be one of fatal, error, warn, info, debug, trace, silent';
  return 'has a value that is not allowed';
}

/** Checks the schema cannot express: addresses, ranges and relations between fields. */
function semanticProblems(config: Config, doc: Document, lines: LineCounter, overridden: Set<string>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const check = (path: Array<string | number>, test: () => void): void => {
    try {
      test();
    } catch (error) {
      problems.push(locate(path.map(String), (error as Error).message, doc, lines, overridden));
    }
  };
  config.dns.listen.forEach((text, i) => check(['dns', 'listen', i], () => parseHostPort(text, 53)));
  config.upstream.servers.forEach((text, i) =>
    check(['upstream', 'servers', i], () => {
      if (parseHostPort(text, 53).port === 0) throw new Error(`"${text}": an upstream needs a real port`);
    }),
  );
  check(['http', 'listen'], () => parseHostPort(config.http.listen, 8080));
  config.access.allow.forEach((text, i) =>
    check(['access', 'allow', i], () => {
      if (!ipaddr.isValidCIDR(text)) throw new Error(`"${text}" is not a CIDR range like 10.64.0.0/10`);
    }),
  );
  check(['cache', 'min_ttl'], () => {
    if (config.cache.min_ttl > config.cache.max_ttl) throw new Error(`must not exceed cache.max_ttl (${config.cache.max_ttl})`);
  });
  check(['upstream', 'attempt_timeout_ms'], () => {
    if (config.upstream.attempt_timeout_ms > config.upstream.timeout_ms) {
      throw new Error(`must not exceed upstream.timeout_ms (${config.upstream.timeout_ms})`);
    }
  });
  return problems;
}

/** Points a problem at the deepest part of `path` present in the file. */
function locate(path: string[], message: string, doc: Document, lines: LineCounter, overridden: Set<string>, atKey = false): ConfigProblem {
  const dotted = path.join('.');
  for (const flagPath of overridden) {
    if (dotted === flagPath || dotted.startsWith(`${flagPath}.`)) return { path: dotted, message: `${message} (from the command line)` };
  }
  for (let depth = path.length; depth > 0; depth--) {
    const offset = atKey && depth === path.length ? keyOffset(doc, path) : valueOffset(doc, path.slice(0, depth));
    if (offset !== undefined) return { path: dotted, line: lines.linePos(offset).line, message };
  }
  return { path: dotted, message };
}

function valueOffset(doc: Document, path: string[]): number | undefined {
  const node = doc.getIn(path.map(indexOrKey), true) as { range?: [number, number, number] } | undefined;
  return node && typeof node === 'object' && node.range ? node.range[0] : undefined;
}

function keyOffset(doc: Document, path: string[]): number | undefined {
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1).map(indexOrKey), true);
  if (!isMap(parent)) return undefined;
  for (const pair of parent.items) {
    if (isScalar(pair.key) && String(pair.key.value) === path.at(-1) && pair.key.range) return pair.key.range[0];
  }
  return undefined;
}

function indexOrKey(step: string): string | number {
  return /^\d+$/.test(step) ? Number(step) : step;
}

function decodePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const key = `${problem.path}|${problem.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The nameservers of resolv.conf: the default upstream, as every stub resolver on the host uses. */
export function systemNameservers(path: string, file: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([{ path: 'upstream.servers', message: `empty, and ${path} cannot be read: ${(error as Error).message}` }], file);
  }
  const servers: string[] = [];
  for (const line of text.split('\n')) {
    const [keyword, address] = line.replace(/[#;].*/, '').trim().split(/\s+/);
    // Link-local addresses with a zone (fe80::1%eth0) cannot be expressed as HOST:PORT.
    if (keyword === 'nameserver' && address !== undefined && !address.includes('%') && ipaddr.isValid(address)) {
      servers.push(address.includes(':') ? `[${address}]:53` : `${address}:53`);
    }
  }
  if (servers.length === 0) {
    throw new ConfigError([{ path: 'upstream.servers', message: `empty, and ${path} lists no usable nameserver; set upstream.servers or --upstream` }], file);
  }
  return servers;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
