import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import ipaddr from 'ipaddr.js';
import { parseHostPort } from './address.js';
import { ConfigSchema, type Config } from './schema.js';
import { ConfigError, YamlSource, deepFreeze, type ConfigProblem } from './yaml-source.js';

export { ConfigError, formatProblem, type ConfigProblem } from './yaml-source.js';

/** Command-line flags that take precedence over the file. */
export interface ConfigOverrides {
  listen?: string[];
  upstream?: string[];
  http?: string;
  mode?: 'monitor' | 'enforce';
  workers?: number;
}

export interface LoadOptions {
  file?: string;
  /** The file's text, instead of reading `file` (tests, and check-config after reading). */
  text?: string;
  overrides?: ConfigOverrides;
  resolvConfPath?: string;
  /** Mode and policy shared by another instance (over Redis): they replace the file's, flags still win. */
  shared?: { mode: unknown; policy: unknown };
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
  const source = YamlSource.parse(text ?? '', file);
  const raw = source.value;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError([{ path: '', line: 1, message: 'must be a mapping of settings' }], file);
  }
  if (options.shared !== undefined) {
    (raw as Record<string, unknown>).mode = options.shared.mode;
    (raw as Record<string, unknown>).policy = structuredClone(options.shared.policy);
  }
  applyOverrides(raw as Record<string, unknown>, options.overrides ?? {}, source.overridden);

  const problems = validate(raw) ? semanticProblems(raw, source) : source.schemaProblems(validate.errors ?? []);
  if (problems.length > 0) throw new ConfigError(problems, file);

  const config = raw as Config;
  if (config.upstream.servers.length === 0) {
    config.upstream.servers = systemNameservers(options.resolvConfPath ?? '/etc/resolv.conf', file);
  }
  return deepFreeze(config);
}

function applyOverrides(raw: Record<string, unknown>, overrides: ConfigOverrides, overridden: Set<string>): void {
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
}

/** Checks the schema cannot express: addresses, ranges and relations between fields. */
function semanticProblems(config: Config, source: YamlSource): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const check = (path: Array<string | number>, test: () => void): void => {
    try {
      test();
    } catch (error) {
      problems.push(source.locate(path.map(String), (error as Error).message));
    }
  };
  config.dns.listen.forEach((text, i) => check(['dns', 'listen', i], () => parseHostPort(text, 53)));
  config.upstream.servers.forEach((text, i) =>
    check(['upstream', 'servers', i], () => {
      if (parseHostPort(text, 53).port === 0) throw new Error(`"${text}": an upstream needs a real port`);
    }),
  );
  check(['http', 'listen'], () => parseHostPort(config.http.listen, 8080));
  if (config.siem.syslog.target !== '') check(['siem', 'syslog', 'target'], () => parseHostPort(config.siem.syslog.target, 514));
  check(['redis', 'url'], () => {
    if (config.redis.url !== '' && !/^rediss?:\/\/[^/\s]+/.test(config.redis.url)) throw new Error(`"${config.redis.url}" is not a redis:// or rediss:// URL`);
  });
  config.access.allow.forEach((text, i) =>
    check(['access', 'allow', i], () => {
      if (!ipaddr.isValidCIDR(text)) throw new Error(`"${text}" is not a CIDR range like 10.64.0.0/10`);
    }),
  );
  config.rate_limit.exempt.forEach((text, i) =>
    check(['rate_limit', 'exempt', i], () => {
      if (!ipaddr.isValidCIDR(text)) throw new Error(`"${text}" is not a CIDR range like 127.0.0.0/8`);
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
