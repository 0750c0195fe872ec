import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type ConfigOverrides, type LoadOptions } from '../config/load.js';
import { runPrimary } from '../server/primary.js';
import { createLogger } from '../logging/log.js';
import { COMMAND_HELP } from './help.js';

const USAGE = COMMAND_HELP.serve.usage;
const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;

/** `wachtpost serve`: flags override the file, the file overrides the embedded defaults. */
export async function serveCommand(argv: string[], err: NodeJS.WritableStream): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        listen: { type: 'string', multiple: true },
        upstream: { type: 'string', multiple: true },
        http: { type: 'string' },
        mode: { type: 'string' },
        workers: { type: 'string' },
        dnstap: { type: 'string' },
        dot: { type: 'string', multiple: true },
        doh: { type: 'string', multiple: true },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'log-format': { type: 'string' },
        'radius-acct': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    err.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const overrides: ConfigOverrides = {};
  if (values.listen) overrides.listen = values.listen;
  if (values.upstream) overrides.upstream = values.upstream;
  if (values.http) overrides.http = values.http;
  if (values.dnstap !== undefined) overrides.dnstap = values.dnstap;
  if (values.dot) overrides.dot = values.dot;
  if (values.doh) overrides.doh = values.doh;
  if (values['tls-cert'] !== undefined) overrides.tlsCert = values['tls-cert'];
  if (values['tls-key'] !== undefined) overrides.tlsKey = values['tls-key'];
  if (values['radius-acct'] !== undefined) overrides.radiusAcct = values['radius-acct'];
  const logFormat = values['log-format'];
  if (logFormat !== undefined) {
    const format = LOG_FORMATS.find((known) => known === logFormat);
    if (format === undefined) {
      err.write(`--log-format must be auto, json or pretty, not "${logFormat}"\n`);
      return 2;
    }
    overrides.logFormat = format;
  }
  if (values.mode !== undefined) {
    if (values.mode !== 'monitor' && values.mode !== 'enforce') {
      err.write(`--mode must be monitor or enforce, not "${values.mode}"\n`);
      return 2;
    }
    overrides.mode = values.mode;
  }
  if (values.workers !== undefined) {
    const workers = Number(values.workers);
    if (!Number.isInteger(workers) || workers < 0) {
      err.write(`--workers must be a whole number (0 = one per core), not "${values.workers}"\n`);
      return 2;
    }
    overrides.workers = workers;
  }

  const source: LoadOptions = { ...(values.config === undefined ? {} : { file: values.config }), overrides };
  let config;
  try {
    config = loadConfig(source);
  } catch (error) {
    if (error instanceof ConfigError) {
      err.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
  const log = createLogger(config.log.level, config.log.format);
  const workers = config.dns.workers === 0 ? os.availableParallelism() : config.dns.workers;
  try {
    // Always a primary plus workers, even for one worker: DNS then never shares an event
    // loop with the history's writes, the feed or HTTP.
    await runPrimary(config, source, fileURLToPath(new URL('../server/worker-main.js', import.meta.url)), workers, log);
  } catch (error) {
    // An operator's problem (a port taken, a file unreadable, a token too short): one line, no stack.
    log.debug({ err: error }, 'could not start');
    err.write(`wachtpost: cannot start: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  return 0;
}
