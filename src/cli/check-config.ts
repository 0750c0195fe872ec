import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { ConfigError, formatProblem, inspectConfig, loadConfig, type ConfigInspection } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { MIN_KEY_LENGTH } from '../events/pseudonymiser.js';
import { MIN_SECRET_LENGTH, RADIUS_SECRET_ENV } from '../radius/shared-secret.js';
import { ADMIN_TOKEN_ENV } from '../http/auth.js';
import { Policy, PolicyError } from '../policy/policy.js';
import { loadDetection } from '../tagging/detection.js';
import { COMMAND_HELP } from './help.js';

const SECRET_KEY = /token|secret|password/i;

/**
 * `wachtpost check-config FILE [--json]`: prints the effective configuration and exits 0,
 * or lists every problem as FILE:LINE: field: message, in line order, and exits 1 (2 for
 * usage errors). Schema, addresses and the policy (against the catalogue, watch list and
 * GeoIP databases it names) are all checked in one pass; expired exemptions are warnings.
 */
export async function checkConfig(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  } catch (error) {
    err.write(`${(error as Error).message}\n${COMMAND_HELP['check-config'].usage}\n`);
    return 2;
  }
  const [file, ...extra] = parsed.positionals;
  if (file === undefined || extra.length > 0) {
    err.write(`${COMMAND_HELP['check-config'].usage}\n`);
    return 2;
  }
  let inspection: ConfigInspection;
  try {
    inspection = inspectConfig({ file });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    err.write(`${error.message}\n`);
    return error.problems.length === 1 && error.problems[0]!.message.startsWith('cannot read') ? 2 : 1;
  }
  // The policy is judged against the catalogue even when other settings are wrong, so one
  // run lists every problem; only a policy or detection section the schema refused cannot be.
  const problems = [...inspection.problems];
  let policy: Policy | null = null;
  if (['mode', 'detection', 'policy'].every((setting) => inspection.schemaValid(setting))) {
    try {
      const config = inspection.raw as Config;
      const detection = loadDetection(config);
      policy = Policy.compile(config, detection.catalogue, detection.watchlist);
    } catch (error) {
      if (!(error instanceof PolicyError)) {
        // A catalogue, watch-list or GeoIP file: its message names that file (and line).
        problems.push({ path: 'detection', message: (error as Error).message });
      } else {
        for (const found of error.problems) {
          const path = found.path.join('.');
          // The same field may already be reported, more precisely, by the configuration's checks.
          if (!problems.some((problem) => problem.path === path)) problems.push(inspection.source.locate(found.path.map(String), found.message));
        }
      }
    }
  }
  if (problems.length > 0) {
    problems.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
    err.write(`${problems.map((problem) => formatProblem(file, problem)).join('\n')}\n`);
    return 1;
  }
  let config: Config;
  try {
    config = loadConfig({ file });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    err.write(`${error.message}\n`);
    return 1;
  }
  for (const expired of policy?.expired ?? []) err.write(`${file}: warning: exemption ${expired}; it no longer applies\n`);
  for (const warning of environmentWarnings(config)) err.write(`${file}: warning: ${warning}\n`);
  const shown = redact(config);
  out.write(parsed.values.json ? `${JSON.stringify(shown, null, 2)}\n` : stringify(shown));
  return 0;
}

/** What the file cannot say for itself: secrets that come from the environment, files that do not exist yet. */
function environmentWarnings(config: Config, env: NodeJS.ProcessEnv = process.env): string[] {
  const warnings: string[] = [];
  if (config.privacy.pseudonymise && (env[config.privacy.key_env] ?? '').length < MIN_KEY_LENGTH) {
    warnings.push(`privacy.pseudonymise is on but ${config.privacy.key_env} holds no key of ${MIN_KEY_LENGTH}+ characters here; serve will refuse to start without it`);
  }
  if (config.detection.local_rules !== '' && !existsSync(config.detection.local_rules)) {
    warnings.push(`detection.local_rules: ${config.detection.local_rules} does not exist yet; it adds nothing until the first rule is added`);
  }
  const radius = config.identity.radius;
  if (radius.listen !== '' && radius.secret_file === '' && (env[RADIUS_SECRET_ENV] ?? '').length < MIN_SECRET_LENGTH) {
    warnings.push(`identity.radius.listen is set but ${RADIUS_SECRET_ENV} holds no shared secret of ${MIN_SECRET_LENGTH}+ characters here; serve will refuse to start without it`);
  }
  if (config.api.tokens.length === 0 && !env[ADMIN_TOKEN_ENV]) {
    warnings.push(`no api.tokens and no ${ADMIN_TOKEN_ENV}: feed, API and dashboard will refuse everyone`);
  }
  return warnings;
}

/** A copy with every secret-looking value replaced, so printing a config never leaks one. */
function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, child]) => [key, SECRET_KEY.test(key) && child !== null && typeof child !== 'object' ? '[redacted]' : redact(child)]),
  );
}
