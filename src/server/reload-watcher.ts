import { watch, type FSWatcher } from 'node:fs';

const SETTLE_MS = 300;

/**
 * Calls `onChange` once after files or directories stop changing for a moment: editors
 * write in several steps, and a half-written file must not be loaded (it would be refused,
 * but the log would be noisy). Paths that cannot be watched are skipped.
 */
export class ReloadWatcher {
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(paths: readonly string[], onChange: () => void) {
    for (const path of paths) {
      try {
        this.watchers.push(
          watch(path, { persistent: false }, () => {
            if (this.timer !== null) clearTimeout(this.timer);
            this.timer = setTimeout(() => {
              this.timer = null;
              onChange();
            }, SETTLE_MS);
          }),
        );
      } catch {
        // A missing path is reported by the next load, not here.
      }
    }
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    for (const watcher of this.watchers) watcher.close();
  }
}
