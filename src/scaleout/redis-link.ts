import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** Longest pause between reconnection attempts. */
const MAX_BACKOFF_MS = 2000;
/**
 * Longest any command may wait for its reply, blocking reads (1 s) included. Without it a
 * command sent just before Redis went away can wait forever: ioredis keeps it for resending
 * after a reconnect that may never complete (a port that accepts but never answers, a Redis
 * killed again while reconnecting), and a shutdown waiting for it never ended.
 */
const COMMAND_TIMEOUT_MS = 5000;

/**
 * One Redis connection that fails fast instead of queueing: while Redis is away, commands
 * reject at once (the callers buffer and count), and the client keeps reconnecting in the
 * background with a capped backoff. No command waits longer than COMMAND_TIMEOUT_MS. `up`
 * tells whether it is connected right now.
 */
export class RedisLink {
  readonly client: Redis;
  up = false;
  private loggedDown = false;

  constructor(url: string, name: string, log: Logger) {
    this.client = new Redis(url, {
      connectionName: `wachtpost-${name}`,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // Blocking reads (XREAD BLOCK) hold the socket; pings must not race them.
      enableAutoPipelining: false,
      retryStrategy: (attempt) => Math.min(attempt * 100, MAX_BACKOFF_MS),
      reconnectOnError: () => false,
      commandTimeout: COMMAND_TIMEOUT_MS,
    });
    this.client.on('ready', () => {
      this.up = true;
      if (this.loggedDown) log.info({ link: name }, 'redis reachable again');
      this.loggedDown = false;
    });
    this.client.on('close', () => {
      this.up = false;
    });
    // ioredis emits 'error' on every failed reconnect; log the first of each outage only.
    this.client.on('error', (error: Error) => {
      this.up = false;
      if (!this.loggedDown) log.warn({ link: name, err: error.message }, 'redis unreachable; events are buffered');
      this.loggedDown = true;
    });
  }

  /** Resolves once connected, or after `timeoutMs` (false) so start-up never hangs on Redis. */
  ready(timeoutMs: number): Promise<boolean> {
    if (this.up) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.client.off('ready', onReady);
        resolve(false);
      }, timeoutMs);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.client.once('ready', onReady);
    });
  }

  close(): void {
    this.client.disconnect(false);
  }
}

/** A wait that never keeps the process alive (retry loops between Redis attempts). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
