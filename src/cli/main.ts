#!/usr/bin/env node
import { VERSION } from '../config/version.js';
import { COMMAND_HELP, OVERVIEW, commandHelp, isCommand, type Command } from './help.js';

const HELP_FLAGS = new Set(['--help', '-h']);

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    process.stderr.write(OVERVIEW);
    return 2;
  }
  if (command === '--version' || command === '-V') return run('version', []);
  if (command === 'help' || HELP_FLAGS.has(command)) {
    const [topic, ...extra] = rest;
    if (topic === undefined) {
      process.stdout.write(OVERVIEW);
      return 0;
    }
    if (!isCommand(topic) || extra.length > 0) {
      process.stderr.write(`no help for "${[topic, ...extra].join(' ')}"\n\n${OVERVIEW}`);
      return 2;
    }
    process.stdout.write(commandHelp(topic));
    return 0;
  }
  if (!isCommand(command)) {
    process.stderr.write(`unknown command "${command}"\n\n${OVERVIEW}`);
    return 2;
  }
  if (rest.some((arg) => HELP_FLAGS.has(arg))) {
    process.stdout.write(commandHelp(command));
    return 0;
  }
  return run(command, rest);
}

/** Each command's code is loaded only when it runs, so --version and help answer at once. */
async function run(command: Command, argv: string[]): Promise<number> {
  switch (command) {
    case 'serve':
      return (await import('./serve-command.js')).serveCommand(argv, process.stderr);
    case 'check-config':
      return (await import('./check-config.js')).checkConfig(argv, process.stdout, process.stderr);
    case 'explain':
      return (await import('./explain-command.js')).explainCommand(argv, process.stdout, process.stderr);
    case 'catalogue':
      return (await import('./catalogue-command.js')).catalogueCommand(argv, process.stdout, process.stderr);
    case 'profile':
      return (await import('./profile-command.js')).profileCommand(argv, process.stdout, process.stderr);
    case 'schema':
    case 'version':
      if (argv.length > 0) return usageError(command, `unexpected "${argv.join(' ')}"`);
      process.stdout.write(command === 'schema' ? (await import('../config/published-schema.js')).publishedSchema() : `wachtpost ${VERSION}\n`);
      return 0;
    case 'token':
      return tokenCommand(argv, (await import('../http/auth.js')).newToken);
  }
}

function usageError(command: Command, problem: string): number {
  process.stderr.write(`${problem}\n${COMMAND_HELP[command].usage}\n`);
  return 2;
}

/** Prints a fresh token once (it is stored nowhere) and the configuration entry holding its hash. */
function tokenCommand([name, role = 'analyst', ...extra]: string[], newToken: () => { token: string; sha256: string }): number {
  if (name === undefined || extra.length > 0 || (role !== 'analyst' && role !== 'admin')) {
    return usageError('token', name === undefined ? 'a NAME is needed' : `the role is analyst or admin, not "${[role, ...extra].join(' ')}"`);
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
    // A bug, not an operator's mistake: the stack helps whoever reports it.
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
