import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { FailureLog } from '../logging/failure-log.js';
import type { SinkOptions } from './sink.js';
import { StreamSink } from './stream-sink.js';

const NEWLINE = Buffer.from('\n');

/**
 * A JSON-lines file: each message (one ECS JSON object) appended as one line. `reopen()` on
 * the returned sink starts a new file after logrotate has moved the old one away. Creates
 * the directory; throws an Error naming the setting if it cannot.
 */
export function openJsonlFile(path: string, log: Logger, options: SinkOptions): StreamSink {
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (error) {
    throw new Error(`siem.jsonl.path: cannot create the directory of ${path}: ${(error as Error).message}`);
  }
  return new StreamSink(
    // The file may hold client addresses: readable by owner and group only.
    () => createWriteStream(path, { flags: 'a', mode: 0o640 }),
    (message) => Buffer.concat([message, NEWLINE]),
    new FailureLog(log, `siem file ${path}`),
    options,
  );
}
