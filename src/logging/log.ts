import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Logger } from 'pino';

const require = createRequire(import.meta.url);

export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * Defence in depth: whatever a log call is handed, values under these paths never reach the
 * log. Tokens, keys and passwords by name at the top and one level down, and the HTTP
 * headers that carry credentials.
 */
const REDACT = [
  'token',
  'secret',
  'password',
  'key',
  'authorization',
  'cookie',
  '*.token',
  '*.secret',
  '*.password',
  '*.key',
  '*.authorization',
  '*.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers.cookie',
  'res.headers["set-cookie"]',
  'err.config.headers',
];

/**
 * The process's logger on standard output: JSON lines with ISO timestamps for machines
 * (journald, a collector), or human-readable lines for a person at a terminal. `auto`
 * picks pretty when standard output is a terminal.
 */
export function createLogger(level: string, format: LogFormat = 'auto', destination: DestinationStream = process.stdout): Logger {
  const options = { level, base: { pid: process.pid }, redact: { paths: REDACT, censor: '[redacted]' } };
  const terminal = destination === process.stdout && process.stdout.isTTY === true;
  if (format === 'json' || (format === 'auto' && !terminal)) return pino({ ...options, timestamp: pino.stdTimeFunctions.isoTime }, destination);
  // Loaded here only: a process logging JSON never holds pino-pretty (about 1.3 MiB of heap).
  const pretty = require('pino-pretty') as typeof import('pino-pretty');
  // Synchronous, in this process: a line logged just before exit is not lost, and no worker thread is started.
  return pino(options, pretty({ destination, sync: true, colorize: terminal, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l', ignore: 'hostname' }));
}
