import type tls from 'node:tls';
import type { ChannelAttempt } from './upstream-server.js';

/** What a DoT or DoH channel to one upstream needs: where, whom to trust, and its limits. */
export interface ChannelSettings {
  host: string;
  port: number;
  /** The name the certificate must be valid for. */
  name: string;
  /** PEM CA bundle; null: the system store. */
  ca: Buffer | null;
  /** Queries one connection may have outstanding; beyond, an attempt fails at once. */
  maxOutstanding: number;
  /** An idle connection is closed after this. */
  idleTimeoutMs: number;
}

/** What tls.connect and http2.connect need to reach and verify the server; SNI only for a name (RFC 6066 allows no IP there). */
export function tlsOptions({ host, port, name, ca }: ChannelSettings): tls.ConnectionOptions {
  return { host, port, ...(name === host ? {} : { servername: name }), ...(ca === null ? {} : { ca }), minVersion: 'TLSv1.2', rejectUnauthorized: true };
}

/**
 * Fails an attempt on the next tick: a channel that turns one down at once (backing off,
 * full) must not report into the forwarding while it is still sending it.
 */
export function failLater(attempt: ChannelAttempt, error: Error): void {
  process.nextTick(() => attempt.fail(error));
}

/** After a failed connection, the next one waits this long, doubling up to the maximum. */
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 30_000;

/** The reconnect backoff a DoT or DoH channel keeps after its connections fail. */
export class Backoff {
  private failures = 0;
  private until = 0;
  private lastError: Error | null = null;

  /** Why a connection may not be opened now, or null when it may. */
  blocked(now: number): Error | null {
    return now < this.until ? new Error(`not reconnecting for ${Math.ceil(this.until - now)} ms after: ${this.lastError?.message ?? 'a failure'}`) : null;
  }

  failed(error: Error, now: number): void {
    this.lastError = error;
    this.until = now + Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** this.failures);
    this.failures++;
  }

  succeeded(): void {
    this.failures = 0;
    this.until = 0;
  }
}

/** Runs `onIdle` once a connection has been idle `ms`, unless started again or stopped first. */
export class IdleTimer {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ms: number,
    private readonly onIdle: () => void,
  ) {}

  start(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.onIdle();
    }, this.ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
