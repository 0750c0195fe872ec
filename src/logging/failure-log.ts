import type { Logger } from 'pino';

const LOG_EVERY_MS = 60_000;

/**
 * Failures of one recurring task (a history write or purge, a SIEM send): counted, kept as
 * the current degraded reason until the task succeeds again, and logged at most once a
 * minute so a full disk does not also fill the log.
 */
export class FailureLog {
  count = 0;
  private current: string | null = null;
  private lastLogged = -Infinity;

  constructor(
    private readonly log: Logger,
    /** What failed, e.g. "history write". */
    private readonly task: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Why the task is failing, or null when its last run succeeded. */
  get reason(): string | null {
    return this.current;
  }

  failed(error: unknown): void {
    this.count++;
    const { code, message } = error as { code?: unknown; message?: unknown };
    this.current = `${this.task} failed: ${String(message ?? error)}`;
    const now = this.now();
    if (now - this.lastLogged >= LOG_EVERY_MS) {
      this.lastLogged = now;
      this.log.error({ code, failures: this.count }, this.current);
    }
  }

  succeeded(): void {
    if (this.current === null) return;
    this.current = null;
    this.log.info({ failures: this.count }, `${this.task} recovered`);
  }
}
