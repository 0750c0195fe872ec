import { statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

const SETTLE_MS = 300;

/**
 * Calls `onChange` once after files or directories stop changing for a moment: editors
 * write in several steps, and a half-written file must not be loaded (it would be refused,
 * but the log would be noisy). A file is watched through its directory, for its name only:
 * a file replaced by rename (atomic writers such as `catalogue install`, many editors) is a
 * new inode that a watch on the old one would never report, and a file that does not exist
 * yet is noticed when it appears. Directories that cannot be watched are skipped.
 */
export class ReloadWatcher {
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(paths: readonly string[], onChange: () => void) {
    // Directory → the names in it that matter, or null for any change in it.
    const watched = new Map<string, Set<string> | null>();
    for (const path of paths.map((entry) => resolve(entry))) {
      if (isDirectory(path)) {
        watched.set(path, null);
        continue;
      }
      const names = watched.get(dirname(path));
      if (names === null) continue;
      watched.set(dirname(path), (names ?? new Set()).add(basename(path)));
    }
    for (const [dir, names] of watched) {
      try {
        this.watchers.push(
          watch(dir, { persistent: false }, (_event, name) => {
            if (names !== null && name !== null && !names.has(name)) return;
            if (this.timer !== null) clearTimeout(this.timer);
            this.timer = setTimeout(() => {
              this.timer = null;
              onChange();
            }, SETTLE_MS);
          }),
        );
      } catch {
        // A missing directory is reported by the next load, not here.
      }
    }
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    for (const watcher of this.watchers) watcher.close();
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
