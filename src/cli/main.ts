#!/usr/bin/env node
import { publishedSchema } from '../config/published-schema.js';
import { newToken } from '../http/auth.js';
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
  wachtpost token NAME [analyst|admin]
                            make an API token: the token for its holder, the hash for api.tokens
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
    case 'token':
      return tokenCommand(rest);
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

/** Prints a fresh token once (it is stored nowhere) and the configuration entry holding its hash. */
function tokenCommand([name, role = 'analyst', ...extra]: string[]): number {
  if (name === undefined || extra.length > 0 || (role !== 'analyst' && role !== 'admin')) {
    process.stderr.write('usage: wachtpost token NAME [analyst|admin]\n');
    return 2;
  }
  const { token, sha256 } = newToken();
  process.stdout.write(
    `token (give it to ${name}; it is shown only now): ${token}\n\n# add under api.tokens:\n  - name: ${JSON.stringify(name)}\n    role: ${role}\n    sha256: "${sha256}"\n`,
  );
  return 0;
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
