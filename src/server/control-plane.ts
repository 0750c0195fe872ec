import type { Logger } from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import { VERSION } from '../config/version.js';
import { AuthThrottle } from '../http/auth-throttle.js';
import { loadSessionKeys } from '../http/session-keys.js';
import { Authenticator, OriginPolicy } from '../http/auth.js';
import { startHttpServer, type RunningHttp } from '../http/http-server.js';
import { nodeRegistry } from '../metrics/node-metrics.js';
import { buildInfo, perProcess, processMetrics, type MetricsJson } from '../metrics/process-metrics.js';
import type { SharedPolicy } from '../scaleout/scale-out.js';
import { bindError } from './bind-error.js';
import { DiscoveryQueue } from '../discovery/discovery-queue.js';
import { DiscoveryService } from './discovery-service.js';
import { EventPath } from './event-path.js';

/** Each policy group's organisation. */
function organisationsOf(policy: Config['policy']): ReadonlyMap<string, string> {
  return new Map(policy.groups.map((group) => [group.name, group.organisation]));
}

/** Metrics of other processes (cluster workers), gathered at scrape time. */
export type RemoteMetrics = () => Promise<MetricsJson[]>;

export interface ControlPlaneOptions {
  /** DNS is being served (every worker bound, not draining). */
  ready(): boolean;
  /** With Redis: another instance shared a policy; validate it and swap it in (or refuse and log). */
  applySharedPolicy(shared: SharedPolicy): void;
  remoteMetrics: RemoteMetrics;
  /** Reasons DNS itself is impaired (every upstream failing), as the workers report them. */
  dnsDegraded(): string[];
}

/**
 * The SOC side of a node, in the cluster primary: the event path (hub, history, SIEM,
 * Redis), the discovery queue and the HTTP server with feed, API, metrics and dashboard.
 * The resolver only ever hands events and candidate reports over to it.
 */
export class ControlPlane {
  private constructor(
    readonly events: EventPath,
    /** Null when discovery or detection is switched off. */
    readonly discovery: DiscoveryQueue | null,
    readonly http: RunningHttp,
    /** The primary's metrics; the node's other parts (RADIUS accounting) add theirs. */
    readonly registry: Registry,
    private readonly auth: Authenticator,
    private readonly log: Logger,
    /** Takes the groups' organisations of a reloaded policy. */
    readonly reloadPolicy: (policy: Config['policy']) => void,
  ) {}

  static async start(config: Config, log: Logger, options: ControlPlaneOptions): Promise<ControlPlane> {
    const events = await EventPath.start(config, log, options.applySharedPolicy);
    try {
      const { hub, history, siem, feed } = events;
      const degraded = (): string[] => [...events.degraded(), ...options.dnsDegraded()];
      const throttle = new AuthThrottle(log.child({ component: 'http' }));
      const registry = nodeRegistry({
        hub: hub.counters,
        history: () => (history === null ? null : { ...history.counters, sizeBytes: history.sizeBytes() }),
        feed,
        siem: () => Object.entries(siem?.counters ?? {}),
        auth: throttle.counters,
        health: {
          ready: options.ready,
          components: () => [...events.parts(), ['upstream', options.dnsDegraded().length > 0] as const],
        },
      });
      processMetrics(registry, 'primary');
      buildInfo(registry, VERSION);
      const pseudonymiser = events.pseudonymiser;
      const discovery =
        config.detection.enabled && config.discovery.enabled
          ? new DiscoveryQueue(config.discovery.capacity, pseudonymiser === null ? null : (address) => pseudonymiser.of(address))
          : null;
      const auth = new Authenticator(config.api, { sessionKeys: loadSessionKeys(config.api.session_keys_file) });
      let organisations = organisationsOf(config.policy);
      if (auth.tokenCount === 0) {
        log.warn('no API token configured: feed, API and dashboard refuse everyone; add api.tokens (wachtpost token NAME ROLE) or set WACHTPOST_ADMIN_TOKEN');
      }
      const http = await startHttpServer(config.http.listen, {
        log,
        health: { ready: options.ready, degraded, dnsDegraded: options.dnsDegraded },
        hub,
        history,
        auth,
        origins: new OriginPolicy(config.api.allowed_origins),
        trustedProxies: config.http.trusted_proxies,
        throttle,
        metrics: {
          contentType: registry.contentType,
          text: async () => AggregatorRegistry.aggregate(perProcess([await registry.getMetricsAsJSON(), ...(await options.remoteMetrics())])).metrics(),
        },
        feed: { counters: feed },
        discovery: discovery === null ? null : new DiscoveryService(discovery, config.detection, log.child({ component: 'discovery' })),
        organisations: () => organisations,
      }).catch((error: unknown) => Promise.reject(bindError(`HTTP on ${config.http.listen}`, error)));
      return new ControlPlane(events, discovery, http, registry, auth, log, (policy) => {
        organisations = organisationsOf(policy);
      });
    } catch (error) {
      await events.close();
      throw error;
    }
  }

  /**
   * Takes the API tokens of a reloaded configuration (SIGHUP or a file change): a removed
   * token stops working at once, with its sessions and feed sockets.
   */
  reloadTokens(api: Config['api']): void {
    const removed = this.auth.replaceTokens(api);
    this.log.info({ tokens: this.auth.tokenCount, removed }, 'API tokens reloaded');
    // Without a keys file the process's own key stays: a new random one would sign everyone out.
    if (api.session_keys_file === '') return;
    try {
      this.auth.replaceSessionKeys(loadSessionKeys(api.session_keys_file));
    } catch (error) {
      this.log.error({ err: (error as Error).message }, 'session keys not reloaded; the previous keys stay');
    }
  }

  /** Stops serving HTTP (closing feed clients with 1001), then closes the event path. */
  async close(): Promise<void> {
    await this.http.close();
    await this.events.close();
  }
}
