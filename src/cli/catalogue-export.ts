import { loadConfig } from '../config/load.js';
import { writeFileAtomically } from '../tagging/atomic-file.js';
import { loadConfiguredCatalogue } from '../tagging/detection.js';
import { loadWatchlist } from '../tagging/jurisdictions.js';
import { exportRpz } from '../tagging/rpz-export.js';
import { SHIPPED } from '../tagging/shipped-data.js';
import { normaliseName, toWire } from '../tagging/signature-index.js';
import { count, parseCommand, UsageError } from './usage.js';

const DEFAULT_ZONE = 'rpz.wachtpost.invalid';

/**
 * `wachtpost catalogue export --rpz [--zone NAME] [--all] [--config FILE] [-o FILE]`: the
 * configured catalogue and local rules as a response policy zone, on stdout or into FILE
 * (replaced in one rename, so a resolver reloading it never reads half a zone). What was
 * left out is said on stderr.
 */
export function exportCommand(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): number {
  const { values, positionals } = parseCommand(args, {
    rpz: { type: 'boolean' },
    zone: { type: 'string' },
    all: { type: 'boolean' },
    config: { type: 'string', short: 'c' },
    output: { type: 'string', short: 'o' },
  });
  if (values.rpz !== true) throw new UsageError('export needs a format: --rpz');
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const zone = normaliseName(values.zone ?? DEFAULT_ZONE);
  try {
    toWire(zone);
  } catch (error) {
    throw new UsageError(`--zone: ${(error as Error).message}`);
  }
  const config = loadConfig(values.config === undefined ? {} : { file: values.config });
  const catalogue = loadConfiguredCatalogue(config.detection);
  const watchlist = loadWatchlist(config.detection.jurisdictions || SHIPPED.jurisdictions);
  const serial = Math.floor(Date.now() / 1000);
  const rpz = exportRpz(catalogue, watchlist, { zone, all: values.all === true, ttl: config.policy.block_ttl, serial });
  if (values.output === undefined) out.write(rpz.text);
  else writeFileAtomically(values.output, rpz.text);
  const patterns = rpz.patterns === 0 ? '' : `; ${count(rpz.patterns, 'pattern rule')} listed as comments only: RPZ cannot express them`;
  err.write(`${values.output ?? 'stdout'}: zone ${zone}, ${count(rpz.domains, 'domain')} of ${count(rpz.apps, 'app')}${patterns}\n`);
  return 0;
}
