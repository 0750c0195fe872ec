import type { ClientAcl } from './client-acl.js';
import { TokenBuckets } from './token-buckets.js';

export interface RateLimitSettings {
  /** Sustained rate per client address; 0 = no limit. */
  perSecond: number;
  burst: number;
  /** Clients never limited (loopback by default). */
  exempt: ClientAcl;
}

/**
 * A per-client rate: queries a client may send, or error replies it may receive (so the
 * resolver cannot be used to reflect REFUSED at a forged source). Counts what it turned down.
 */
export class RateLimit {
  limited = 0;
  private readonly buckets: TokenBuckets;
  /** The last client asked about, and whether it is exempt: a client sends queries in runs. */
  private lastClient = '';
  private lastExempt = false;

  constructor(private readonly settings: RateLimitSettings) {
    this.buckets = new TokenBuckets(settings.perSecond, settings.burst);
  }

  /** Whether `client` may have one more; counted when not. */
  admits(client: string): boolean {
    if (client !== this.lastClient) {
      this.lastClient = client;
      this.lastExempt = this.settings.exempt.allows(client);
    }
    if (this.lastExempt || this.buckets.take(client, Date.now())) return true;
    this.limited++;
    return false;
  }
}
