import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { ConfigError, loadConfig } from '../config/load.js';
import { Policy } from '../policy/policy.js';
import { loadDetection } from '../tagging/detection.js';

const SECRET_KEY = /token|secret|password/i;

/**
 * `wachtpost check-config FILE [--json]`: prints the effective configuration and exits 0,
 * or lists every problem as FILE:LINE: field: message and exits 1 (2 for usage errors).
 * The catalogue, watch list, GeoIP databases and policy it names are loaded and checked
 * too; expired exemptions are reported as warnings.
 */
export async function checkConfig(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  } catch (error) {
    err.write(`${(error as Error).message}\nusage: wachtpost check-config FILE [--json]\n`);
    return 2;
  }
  const [file, ...extra] = parsed.positionals;
  if (file === undefined || extra.length > 0) {
    err.write('usage: wachtpost check-config FILE [--json]\n');
    return 2;
  }
  try {
    const config = loadConfig({ file });
    let policy: Policy;
    try {
      const detection = loadDetection(config);
      policy = Policy.compile(config, detection.catalogue, detection.watchlist);
    } catch (error) {
      err.write(`${file}: ${(error as Error).message}\n`);
      return 1;
    }
    for (const expired of policy.expired) err.write(`${file}: warning: exemption ${expired}; it no longer applies\n`);
    const shown = redact(config);
    out.write(parsed.values.json ? `${JSON.stringify(shown, null, 2)}\n` : stringify(shown));
    return 0;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    err.write(`${error.message}\n`);
    const unreadable = error.problems.length === 1 && error.problems[0]!.message.startsWith('cannot read');
    return unreadable ? 2 : 1;
  }
}

/** A copy with every secret-looking value replaced, so printing a config never leaks one. */
function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, child]) => [key, SECRET_KEY.test(key) && child !== null && typeof child !== 'object' ? '[redacted]' : redact(child)]),
  );
}
