import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database, { type Database as Db } from 'better-sqlite3';
import { migrate } from './schema.js';

/**
 * How long a statement waits for a lock held by another connection (a backup, the sqlite3
 * shell) before failing. Short: the writer runs on the event loop and retries later anyway.
 */
const BUSY_TIMEOUT_MS = 200;

/**
 * WAL pages (4 KiB) after which a commit copies the WAL back into the file. SQLite's
 * default, 1000, is fewer pages than one 1000-event batch writes once the indexes have
 * grown (every index leaf an insert touches: 1,250–1,700 pages per batch at 80–200k
 * events), so every batch was checkpointed. At 10,000 a checkpoint comes every several
 * batches and copies a page that many commits rewrote (the indexes' hot leaves) once:
 * about 15–20 % less CPU per stored event (bench/history/write.bench.ts), for a WAL file
 * of up to about 40 MB.
 */
const WAL_CHECKPOINT_PAGES = 10_000;

/**
 * Opens (creating when needed) the history file in WAL mode with `synchronous=NORMAL`:
 * commits need no fsync, and a power cut can lose at most the last commits, never
 * consistency. The file and its directory are private to the service account because they
 * hold client addresses. Any failure names the path.
 */
export function openDatabase(path: string): Db {
  let db: Db | null = null;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // SQLite gives the -wal and -shm files the main file's mode, so creating it 0600 covers all three.
    closeSync(openSync(path, 'a', 0o600));
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
    migrate(db);
    return db;
  } catch (error) {
    db?.close();
    throw new Error(`cannot open the history database ${path}: ${(error as Error).message}`, { cause: error });
  }
}
