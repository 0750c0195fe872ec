import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { FailureLog } from '../logging/failure-log.js';
import type { IdStore } from './id-store.js';

/**
 * The id reservation of a node without history (`events.id_file`): one decimal number in a
 * small file, replaced atomically (written to a temporary file, synced, renamed, directory
 * synced), so neither a crash nor a power cut can leave it behind the ids handed out.
 */
export class IdFile implements IdStore {
  private current: number;
  private readonly failures: FailureLog;

  /** Reads the file (a missing one is a new node); throws naming the path when it is unreadable or not a number. */
  constructor(
    private readonly path: string,
    log: Logger,
  ) {
    this.failures = new FailureLog(log.child({ component: 'events' }), 'event id reservation');
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read the event id file ${path}: ${(error as Error).message}`);
      text = '0';
    }
    if (!/^\d{1,16}\s*$/.test(text)) throw new Error(`the event id file ${path} does not hold an id`);
    this.current = Number(text);
  }

  reserved(): number {
    return this.current;
  }

  reserve(through: number): void {
    if (through > this.current) this.write(through);
  }

  release(lastUsed: number): void {
    this.write(lastUsed);
  }

  degraded(): string | null {
    return this.failures.reason;
  }

  private write(value: number): void {
    const temporary = `${this.path}.tmp`;
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      const fd = openSync(temporary, 'w', 0o600);
      try {
        writeSync(fd, `${value}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temporary, this.path);
      const dir = openSync(dirname(this.path), 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
      this.current = value;
      this.failures.succeeded();
    } catch (error) {
      this.failures.failed(error);
    }
  }
}
