import { readFileSync } from 'node:fs';
import { AccessStage } from '../access/access-stage.js';
import { ddrRecords } from '../access/ddr.js';
import { DeviceMap } from '../access/device-map.js';
import { SessionDevices } from '../access/session-devices.js';
import { ClientAcl } from '../access/client-acl.js';
import { DevicePatterns } from '../pipeline/device-id.js';
import { parseUpstreamTarget } from '../config/upstream-target.js';
import { DohChannel } from '../upstream/doh-channel.js';
import { DotChannel } from '../upstream/dot-channel.js';
import { RateLimit } from '../access/rate-limit.js';
import { ScopeStage } from '../access/scope-stage.js';
import { CacheStage } from '../cache/cache-stage.js';
import { cacheLayout, localMemory, type CacheLayout, type CacheMemory } from '../cache/cache-memory.js';
import { parseHostPort } from '../config/address.js';
import type { Config } from '../config/schema.js';
import { CanaryStage } from '../policy/canary-stage.js';
import { Policy } from '../policy/policy.js';
import { PolicyStage } from '../policy/policy-stage.js';
import { loadDetection, type Detection } from '../tagging/detection.js';
import type { DatabaseReader } from '../tagging/geo-tagger.js';
import { CONSTANT_TAGS } from '../tagging/answer-tags.js';
import { TagStage } from '../tagging/tag-stage.js';
import { CoalesceStage } from '../upstream/coalesce-stage.js';
import { UpstreamServer } from '../upstream/upstream-server.js';
import type { ExchangeObserver } from '../upstream/exchange-observer.js';
import { UpstreamStage } from '../upstream/upstream-stage.js';
import { batchedUpstreamSockets } from './upstream-sockets.js';
import { chain, type Stage } from '../pipeline/stage.js';
import { Swappable } from '../pipeline/swappable.js';

/** Upstream exchanges one worker keeps open at once (each holds a socket). */
const MAX_UPSTREAM_IN_FLIGHT = 1000;
const DNS_PORT = 53;

/** The cache's shape for the configured limits (what a shared cache's processes must agree on). */
export function cacheLayoutOf(config: Config): CacheLayout {
  return cacheLayout(config.cache.max_entries, config.cache.max_bytes);
}

/** What a worker's primary shares with it (none: a lone resolver, or a worker that shares nothing). */
export interface FromPrimary {
  /** The memory every worker's cache shares; none: a cache of this process's own. */
  readonly cacheMemory?: CacheMemory;
  /** Reads the GeoIP databases from the primary's copies; none: each read into this process. */
  readonly readDatabase?: DatabaseReader;
}

export interface ResolverChain {
  readonly head: Stage;
  /** Who may use the resolver: the access stage asks it per query, the TCP listeners at accept. */
  readonly acl: ClientAcl;
  readonly access: AccessStage;
  readonly stages: readonly Stage[];
  readonly cache: CacheStage;
  readonly coalesce: CoalesceStage;
  readonly upstream: UpstreamStage;
  /** Swapped whole on reload (see Resolver.reload). */
  readonly detection: Swappable<Detection>;
  readonly policy: Swappable<Policy>;
}

/**
 * Builds the resolver from the configuration. The order of the list below is the
 * architecture:
 *   access    who may ask at all (REFUSED otherwise) and how often (per-client rate), before
 *             any work is spent
 *   scope     what is never forwarded: other classes than IN (the CHAOS identity is
 *             answered here) and queries without RD
 *   canary    names that tell devices to keep using this resolver (DoH and Private Relay
 *             canaries), answered before policy so no rule can change that answer
 *   policy    the client's group and the verdict on the answer's tags; above the cache
 *             because verdicts differ per group, so cached answers are judged per client
 *   cache     fresh answers served synchronously; stale ones kept for when upstreams fail
 *   coalesce  one upstream exchange per distinct question in flight
 *   tag       app, addresses and their hosting (country, ASN) of each upstream answer,
 *             once, stored with it in the cache
 *   upstream  the forwarder itself: retries, failover, TCP on truncation
 */
export function buildResolverChain(config: Config, exchanges?: ExchangeObserver, shared: FromPrimary = {}): ResolverChain {
  const detection = new Swappable(loadDetection(config, undefined, shared.readDatabase));
  const policy = new Swappable(Policy.compile(config, detection.current.catalogue, detection.current.watchlist));
  const { acl, access, scope, canary, policy: policyStage, tag } = buildJudgingStages(config, detection, policy);
  const upstream = buildUpstreamStage(config, exchanges);
  const cache = new CacheStage({
    minTtl: config.cache.min_ttl,
    maxTtl: config.cache.max_ttl,
    negativeMaxTtl: config.cache.negative_max_ttl,
    serveStale: {
      enabled: config.cache.serve_stale.enabled,
      maxAgeSeconds: config.cache.serve_stale.max_age_s,
      answerTtl: config.cache.serve_stale.answer_ttl,
      clientTimeoutMs: config.cache.serve_stale.client_timeout_ms,
    },
    prefetch: {
      enabled: config.cache.prefetch.enabled,
      minHits: config.cache.prefetch.min_hits,
      remainingRatio: config.cache.prefetch.remaining_ratio,
    },
    udpSize: config.dns.udp_size,
    fetchTimeoutMs: config.upstream.timeout_ms,
  }, shared.cacheMemory ?? localMemory(cacheLayoutOf(config)), upstream, config.detection.enabled ? (query, answer) => tag.tag(query, answer) : null, CONSTANT_TAGS);
  const coalesce = new CoalesceStage();
  const stages: Stage[] = config.detection.enabled
    ? [access, scope, canary, policyStage, cache, coalesce, tag, upstream]
    : [access, scope, cache, coalesce, upstream];
  return { head: chain(stages), acl, access, stages, cache, coalesce, upstream, detection, policy };
}

/** The stages that decide what a query gets and what it is recorded as, in the chain's order. */
export interface JudgingStages {
  /** Who may use the resolver: the access stage asks it per query, the TCP listeners at accept. */
  readonly acl: ClientAcl;
  readonly access: AccessStage;
  readonly scope: ScopeStage;
  readonly canary: CanaryStage;
  readonly policy: PolicyStage;
  readonly tag: TagStage;
}

/**
 * The deciding stages as the resolver builds them, unlinked. `wachtpost explain` links the
 * same ones (without the cache and coalescing, which never change a decision), so that it
 * and the server cannot disagree about a name.
 */
export function buildJudgingStages(config: Config, detection: Swappable<Detection>, policy: Swappable<Policy>): JudgingStages {
  const acl = new ClientAcl(config.access.allow);
  const limits = config.rate_limit;
  const queryRate =
    limits.queries_per_second > 0 ? new RateLimit({ perSecond: limits.queries_per_second, burst: limits.burst, exempt: new ClientAcl(limits.exempt) }) : null;
  return {
    acl,
    access: new AccessStage(
      acl,
      queryRate,
      limits.action,
      config.access.devices.length === 0 ? null : new DevicePatterns(config.access.devices),
      config.identity.static_map === '' ? null : new Swappable(DeviceMap.read(config.identity.static_map)),
      config.identity.radius.listen === '' && !config.identity.radius.follow ? null : new SessionDevices(),
    ),
    scope: new ScopeStage(config.dns.identity, ddrRecords(config)),
    canary: new CanaryStage(config.events.canaries),
    policy: new PolicyStage(policy, detection),
    tag: new TagStage(detection),
  };
}

/** Queries one DoT or DoH connection carries at once, and how long it stays open idle. */
const ENCRYPTED_UPSTREAM = { maxOutstanding: 200, idleTimeoutMs: 30_000 } as const;

/** A configured upstream: plain, or DoT / DoH with its own persistent connection. */
function upstreamServer(text: string, config: Config): UpstreamServer {
  const target = parseUpstreamTarget(text, DNS_PORT);
  if (target.kind === 'plain') {
    const server = new UpstreamServer(target.host, target.port, target.family);
    server.openSocket = batchedUpstreamSockets(config.dns.udp_batching) ?? server.openSocket;
    return server;
  }
  const ca = config.upstream.ca_file === '' ? null : readFileSync(config.upstream.ca_file);
  const settings = { host: target.host, port: target.port, name: target.name, ca, ...ENCRYPTED_UPSTREAM };
  const fragment = target.name === target.host ? '' : `#${target.name}`;
  if (target.kind === 'dot') {
    const server = new UpstreamServer(target.host, target.port, target.family, 'tls://', fragment);
    server.channel = new DotChannel(settings);
    return server;
  }
  const server = new UpstreamServer(target.host, target.port, target.family, 'https://', `${target.path}${fragment}`);
  server.channel = new DohChannel(settings, target.path);
  return server;
}

/** The forwarding stage alone, as configured (also used by `wachtpost explain --resolve`). */
export function buildUpstreamStage(config: Config, observer?: ExchangeObserver): UpstreamStage {
  return new UpstreamStage({
    servers: config.upstream.servers.map((text) => upstreamServer(text, config)),
    timeoutMs: config.upstream.timeout_ms,
    attemptTimeoutMs: config.upstream.attempt_timeout_ms,
    failureMemoryMs: config.upstream.failure_memory_ms,
    randomizeCase: config.upstream.randomize_case,
    udpSize: config.dns.udp_size,
    maxInFlight: MAX_UPSTREAM_IN_FLIGHT,
    ...(observer === undefined ? {} : { observer }),
  });
}
