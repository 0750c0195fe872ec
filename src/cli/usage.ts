import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Wrong flags or arguments: the command prints its usage and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A command refused to act and says why in its message: exit 1, nothing changed. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs in strict mode, its complaints turned into UsageError. */
export function parseCommand<T extends Options>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** "1 rule", "2 rules". */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
