import { ConfigError } from '../config/yaml-source.js';
import { CatalogueError } from '../tagging/catalogue.js';
import { BundleError } from '../tagging/catalogue-bundle.js';
import { bundleCommand, installCommand, verifyCommand } from './catalogue-bundle-commands.js';
import { exportCommand } from './catalogue-export.js';
import { importCommand } from './catalogue-import.js';
import { statsCommand } from './catalogue-stats.js';
import { CommandError, UsageError } from './usage.js';

const USAGE = `usage:
  wachtpost catalogue stats [--config FILE] [--json]
  wachtpost catalogue bundle --key PRIVATE.pem [--dir DIR] -o FILE
  wachtpost catalogue verify FILE [--config FILE]
  wachtpost catalogue install FILE [--config FILE] [--allow-downgrade]
  wachtpost catalogue import --app ID --owner-country CC [--name NAME] [--owner OWNER] [--category CAT]
                             [--source TEXT] [--dry-run] [--config FILE] FILE...
  wachtpost catalogue export --rpz [--zone NAME] [--all] [--config FILE] [-o FILE]
`;

type Subcommand = (args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream) => number | Promise<number>;

const SUBCOMMANDS: Record<string, Subcommand> = {
  stats: statsCommand,
  bundle: bundleCommand,
  verify: verifyCommand,
  install: installCommand,
  import: importCommand,
  export: exportCommand,
};

/**
 * `wachtpost catalogue SUBCOMMAND`: look at, exchange and extend the catalogue. A problem
 * with the files involved is one clear message and exit 1; wrong usage exits 2.
 */
export async function catalogueCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const [name, ...args] = argv;
  const run = name === undefined ? undefined : SUBCOMMANDS[name];
  if (run === undefined) {
    err.write(name === undefined || name === 'help' ? USAGE : `unknown catalogue command "${name}"\n${USAGE}`);
    return 2;
  }
  try {
    return await run(args, out, err);
  } catch (error) {
    if (error instanceof UsageError) {
      err.write(`${error.message}\n${USAGE}`);
      return 2;
    }
    if (error instanceof ConfigError || error instanceof CatalogueError || error instanceof BundleError || error instanceof CommandError || isFileError(error)) {
      err.write(`${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  }
}

/** A file that cannot be read or written (missing directory, permissions): the system's message says it. */
function isFileError(error: unknown): boolean {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}
