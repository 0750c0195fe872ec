#!/usr/bin/env node
import { publishedSchema } from '../config/published-schema.js';
import { checkConfig } from './check-config.js';
import { explainCommand } from './explain-command.js';
import { serveCommand } from './serve-command.js';

const HELP = `wachtpost: DNS resolver and egress monitor for government work phones

usage:
  wachtpost serve [--config FILE] [--listen HOST:PORT]... [--upstream HOST[:PORT]]...
                  [--http HOST:PORT] [--mode monitor|enforce] [--workers N]
  wachtpost check-config FILE [--json]
  wachtpost explain NAME [--config FILE] [--client IP] [--resolve] [--upstream HOST[:PORT]]... [--json]
  wachtpost schema          print the configuration's JSON Schema
  wachtpost help
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serveCommand(rest, process.stderr);
    case 'check-config':
      return checkConfig(rest, process.stdout, process.stderr);
    case 'explain':
      return explainCommand(rest, process.stdout, process.stderr);
    case 'schema':
      process.stdout.write(publishedSchema());
      return 0;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    default:
      process.stderr.write(command === undefined ? HELP : `unknown command "${command}"\n\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // serve keeps running on its sockets; every other command ends here.
    if (code !== 0 || process.argv[2] !== 'serve') process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
