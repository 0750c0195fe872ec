import ipaddr from 'ipaddr.js';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';

/** Failed authentications a source may make in a burst… */
export const FAILURE_BURST = 20;
/** …and how fast its allowance comes back: one failure per this many ms (10 a minute). */
export const FAILURE_REFILL_MS = 6000;
/** Sources remembered at once; beyond it the one that failed longest ago is forgotten. */
const MAX_SOURCES = 10_000;
/** At most one log line about failures per this interval. */
const LOG_EVERY_MS = 60_000;

/** Counters the metrics layer reads. */
export class AuthCounters {
  /** Requests with a missing, unknown or expired token or session. */
  failures = 0;
  /** Requests refused with 429 because their source failed too often. */
  throttled = 0;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Per-source throttling of failed authentication (a token bucket of FAILURE_BURST failures,
 * refilled at one per FAILURE_REFILL_MS): guessing tokens from one address gets 20 tries,
 * then 10 a minute. Only failures cost; a source with no allowance left is refused before
 * its token is even looked at, so it learns nothing. A source is an IPv4 address or an IPv6
 * /64 (one subscriber's network). Memory is bounded by MAX_SOURCES. Failures are logged at
 * most once a minute, with counts and the latest source, never a token.
 */
export class AuthThrottle {
  readonly counters = new AuthCounters();
  private readonly buckets = new Map<string, Bucket>();
  private lastLog = -Infinity;
  private failuresSinceLog = 0;
  private throttledSinceLog = 0;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds `address` must wait before it may try again; 0 when it may try now. */
  retryAfter(address: string): number {
    const bucket = this.buckets.get(sourceOf(address));
    if (bucket === undefined) return 0;
    const tokens = this.refilled(bucket);
    if (tokens >= 1) return 0;
    this.counters.throttled++;
    this.throttledSinceLog++;
    this.report(address);
    return Math.ceil(((1 - tokens) * FAILURE_REFILL_MS) / 1000);
  }

  /** A request from `address` failed to authenticate: it costs the source one try. */
  failed(address: string): void {
    const source = sourceOf(address);
    const bucket = this.buckets.get(source);
    const tokens = bucket === undefined ? FAILURE_BURST : this.refilled(bucket);
    // Re-inserted, so the map's first entry is always the source that failed longest ago.
    this.buckets.delete(source);
    if (this.buckets.size >= MAX_SOURCES) this.buckets.delete(this.buckets.keys().next().value!);
    this.buckets.set(source, { tokens: tokens - 1, at: this.now() });
    this.counters.failures++;
    this.failuresSinceLog++;
    this.report(address);
  }

  private refilled(bucket: Bucket): number {
    return Math.min(FAILURE_BURST, bucket.tokens + (this.now() - bucket.at) / FAILURE_REFILL_MS);
  }

  private report(address: string): void {
    const now = this.now();
    if (now - this.lastLog < LOG_EVERY_MS) return;
    this.lastLog = now;
    this.log.warn(
      { failures: this.failuresSinceLog, throttled: this.throttledSinceLog, latest_source: address },
      'failed authentication (counts since the last such line)',
    );
    this.failuresSinceLog = 0;
    this.throttledSinceLog = 0;
  }
}

/** Answers 429 with Retry-After to a source that failed too often. */
export async function refuseThrottled(reply: FastifyReply, retryAfterSeconds: number): Promise<FastifyReply> {
  return reply
    .code(429)
    .header('retry-after', String(retryAfterSeconds))
    .send({ error: 'too_many_failures', message: `too many failed authentications from this address; try again in ${retryAfterSeconds} s` });
}

/** The unit a source is counted in: the address, or for IPv6 its /64 (IPv4-mapped IPv6 as IPv4). */
function sourceOf(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const ip = ipaddr.process(address);
  return ip.kind() === 'ipv4' ? ip.toString() : `${(ip as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16)).join(':')}::/64`;
}
