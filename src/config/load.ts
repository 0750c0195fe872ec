import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parseDnstapTarget } from './dnstap-target.js';
import { parseUpstreamTarget } from './upstream-target.js';
import { parseHostPort, strictCidr, strictIp } from './address.js';
import { parsePublicKey } from './public-key.js';
import { DevicePatterns, isServerName } from '../pipeline/device-id.js';
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
  dnstap?: string;
  dot?: string[];
  doh?: string[];
  tlsCert?: string;
  tlsKey?: string;
  logFormat?: 'auto' | 'json' | 'pretty';
  radiusAcct?: string;
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
  dnstap: ['dnstap', 'target'],
  dot: ['encrypted', 'dot'],
  doh: ['encrypted', 'doh'],
  tlsCert: ['encrypted', 'tls_cert'],
  tlsKey: ['encrypted', 'tls_key'],
  logFormat: ['log', 'format'],
  radiusAcct: ['identity', 'radius', 'listen'],
};

/** A configuration file read and checked, whether or not it passed. */
export interface ConfigInspection {
  readonly file: string;
  /** The settings with defaults filled in; a Config only when `problems` is empty. */
  readonly raw: Record<string, unknown>;
  readonly source: YamlSource;
  /** Schema and semantic problems together, each with its line where it has one. */
  readonly problems: ConfigProblem[];
  /** Whether the schema found nothing wrong at or below this top-level setting (e.g. "policy"). */
  schemaValid(setting: string): boolean;
}

/**
 * YAML → defaults → flag overrides → schema validation and semantic checks (both, always,
 * so one pass lists every problem). Throws ConfigError only when there is nothing to check:
 * an unreadable file, broken YAML, or a document that is not a mapping.
 */
export function inspectConfig(options: LoadOptions = {}): ConfigInspection {
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
  const settings = raw as Record<string, unknown>;
  if (options.shared !== undefined) {
    settings.mode = options.shared.mode;
    settings.policy = structuredClone(options.shared.policy);
  }
  applyOverrides(settings, options.overrides ?? {}, source.overridden);
  const schemaProblems = validate(settings) ? [] : source.schemaProblems(validate.errors ?? []);
  return {
    file,
    raw: settings,
    source,
    problems: [...schemaProblems, ...semanticProblems(settings, source)],
    schemaValid: (setting) => !schemaProblems.some((problem) => problem.path === setting || problem.path.startsWith(`${setting}.`)),
  };
}

/**
 * inspectConfig, then resolv.conf for empty upstreams and a deep freeze. Throws ConfigError
 * listing every problem with its line.
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const { file, raw, problems } = inspectConfig(options);
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

/**
 * Checks the schema cannot express: addresses, ranges and relations between fields. Runs
 * on settings the schema may have refused, so every value is type-checked before use.
 */
function semanticProblems(settings: Record<string, unknown>, source: YamlSource): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const check = (path: Array<string | number>, test: () => void): void => {
    try {
      test();
    } catch (error) {
      problems.push(source.locate(path.map(String), (error as Error).message));
    }
  };
  const at = (path: Array<string | number>): unknown =>
    path.reduce<unknown>((value, step) => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[step] : undefined), settings);
  /** Runs `test` on the string at `path`, if one is there (and, with `skipEmpty`, not empty). */
  const text = (path: Array<string | number>, test: (value: string) => void, skipEmpty = false): void => {
    const value = at(path);
    if (typeof value === 'string' && !(skipEmpty && value === '')) check(path, () => test(value));
  };
  const texts = (path: Array<string | number>, test: (value: string) => void): void => {
    const list = at(path);
    if (Array.isArray(list)) list.forEach((_value, i) => text([...path, i], test));
  };
  const hostPort = (defaultPort: number) => (value: string) => void parseHostPort(value, defaultPort);

  texts(['dns', 'listen'], hostPort(53));
  texts(['upstream', 'servers'], (value) => {
    if (parseUpstreamTarget(value).port === 0) throw new Error(`"${value}": an upstream needs a real port`);
  });
  const readable = (value: string): void => {
    try {
      readFileSync(value);
    } catch (error) {
      throw new Error(`cannot read "${value}": ${(error as Error).message}`);
    }
  };
  text(['upstream', 'ca_file'], readable, true);
  text(['encrypted', 'client_ca'], readable, true);
  text(['identity', 'static_map'], readable, true);
  text(['identity', 'radius', 'listen'], hostPort(1813), true);
  texts(['identity', 'radius', 'clients'], strictCidr);
  text(['identity', 'radius', 'secret_file'], readable, true);
  text(['http', 'listen'], hostPort(8080));
  texts(['http', 'trusted_proxies'], strictCidr);
  text(['dnstap', 'target'], (value) => void parseDnstapTarget(value), true);
  text(['siem', 'syslog', 'target'], hostPort(514), true);
  text(['redis', 'url'], (value) => {
    if (value !== '' && !/^rediss?:\/\/[^/\s]+/.test(value)) throw new Error(`"${value}" is not a redis:// or rediss:// URL`);
  });
  texts(['detection', 'catalogue_keys'], (value) => void parsePublicKey(value));
  texts(['access', 'allow'], strictCidr);
  check(['access', 'devices'], () => {
    const devices = at(['access', 'devices']);
    if (Array.isArray(devices) && devices.every((entry) => typeof entry === 'string')) new DevicePatterns(devices);
  });
  texts(['encrypted', 'dot'], hostPort(853));
  texts(['encrypted', 'doh'], hostPort(443));
  texts(['encrypted', 'trusted_proxies'], strictCidr);
  text(['encrypted', 'server_name'], (value) => {
    if (!isServerName(value)) throw new Error(`"${value}" is not a host name`);
  }, true);
  const listeners = ['dot', 'doh'].some((kind) => {
    const list = at(['encrypted', kind]);
    return Array.isArray(list) && list.length > 0;
  });
  for (const file of ['tls_cert', 'tls_key']) {
    if (listeners && at(['encrypted', file]) === '') problems.push(source.locate(['encrypted', file], 'is needed when encrypted.dot or encrypted.doh lists an address'));
  }
  texts(['rate_limit', 'exempt'], strictCidr);
  const groups = at(['policy', 'groups']);
  if (Array.isArray(groups)) groups.forEach((_group, i) => texts(['policy', 'groups', i, 'cidrs'], strictCidr));
  text(['policy', 'sinkhole', 'ipv4'], (value) => {
    if (strictIp(value) !== 4) throw new Error(`"${value}" is not an IPv4 address`);
  }, true);
  text(['policy', 'sinkhole', 'ipv6'], (value) => {
    if (strictIp(value) !== 6) throw new Error(`"${value}" is not an IPv6 address`);
  }, true);
  text(['policy', 'sinkhole', 'listen'], hostPort(80), true);
  /** `path`'s number must not exceed `limit`'s, when both are numbers. */
  const atMost = (path: string[], limit: string[]): void => {
    const [value, bound] = [at(path), at(limit)];
    if (typeof value === 'number' && typeof bound === 'number' && value > bound) problems.push(source.locate(path, `must not exceed ${limit.join('.')} (${bound})`));
  };
  if (at(['identity', 'radius', 'follow']) === true && at(['redis', 'url']) === '') {
    problems.push(source.locate(['identity', 'radius', 'follow'], 'needs redis.url: the sessions of other instances come through Redis'));
  }
  atMost(['cache', 'min_ttl'], ['cache', 'max_ttl']);
  atMost(['upstream', 'attempt_timeout_ms'], ['upstream', 'timeout_ms']);
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
    // Strictly written only: a zone (fe80::1%eth0) cannot be expressed as HOST:PORT.
    if (keyword === 'nameserver' && address !== undefined && isStrictIp(address)) {
      servers.push(address.includes(':') ? `[${address}]:53` : `${address}:53`);
    }
  }
  if (servers.length === 0) {
    throw new ConfigError([{ path: 'upstream.servers', message: `empty, and ${path} lists no usable nameserver; set upstream.servers or --upstream` }], file);
  }
  return servers;
}

function isStrictIp(text: string): boolean {
  try {
    strictIp(text);
    return true;
  } catch {
    return false;
  }
}
