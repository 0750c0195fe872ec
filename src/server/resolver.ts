import type { Logger } from 'pino';
import { ClientAcl } from '../access/client-acl.js';
import { DeviceMap } from '../access/device-map.js';
import { RateLimit } from '../access/rate-limit.js';
import { parseHostPort } from '../config/address.js';
import type { Config } from '../config/schema.js';
import { Policy } from '../policy/policy.js';
import { buildResolverChain, type FromPrimary, type ResolverChain } from './resolver-chain.js';
import type { DatabaseReader } from '../tagging/geo-tagger.js';
import { loadDetection, type Detection } from '../tagging/detection.js';
import { Dispatcher } from '../transport/dispatcher.js';
import { EventRecorder } from '../events/event-recorder.js';
import type { EventSink } from '../events/event-sink.js';
import type { DiscoveryReportMessage } from '../discovery/candidate-report.js';
import { DiscoveryObserver } from '../discovery/discovery-observer.js';
import { RepeatFolder } from '../events/repeat-folder.js';
import { DetectionCounts } from '../metrics/detection-counts.js';
import type { DnstapOutput } from '../dnstap/dnstap-output.js';
import { VERSION } from '../config/version.js';
import { ResolverMetrics, type ResolverReadings } from '../metrics/resolver-metrics.js';
import { ExchangeObservers } from '../upstream/exchange-observer.js';
import { UpstreamHealth } from '../upstream/upstream-health.js';
import { Responder } from '../transport/responder.js';
import { TcpListener, type TcpSettings } from '../transport/tcp-listener.js';
import { DohListener } from '../transport/doh-listener.js';
import { DotHandshake, type EncryptedAdmission } from '../transport/dot-handshake.js';
import { TlsCredentials } from '../transport/tls-credentials.js';
import type { UdpEndpoint } from '../transport/udp-listener.js';
import { openUdpEndpoint } from '../transport/udp-endpoints.js';
import { ReplyWriter } from '../wire/reply.js';
import { bindError } from './bind-error.js';
import { instanceName } from './instance.js';

export interface BoundAddress {
  host: string;
  port: number;
}

/** One resolver: the chain plus a UDP and a TCP listener on every configured address. */
export class Resolver implements ResolverReadings {
  private draining: Promise<void> | null = null;
  private notice: { close(): Promise<void> } | null = null;
  private folder: RepeatFolder | null = null;
  private dnstapOutput: DnstapOutput | null = null;
  private health: UpstreamHealth | null = null;
  private discovery: DiscoveryObserver | null = null;
  private errorRate: RateLimit | null = null;
  private readDatabase: DatabaseReader | undefined = undefined;
  private credentials: TlsCredentials | null = null;
  private readonly dohListeners: DohListener[] = [];
  private readonly dotLayers: DotHandshake[] = [];

  private constructor(
    readonly chain: ResolverChain,
    readonly dispatcher: Dispatcher,
    readonly responder: Responder,
    private readonly udp: UdpEndpoint[],
    private readonly tcpListeners: TcpListener[],
    private readonly log: Logger,
  ) {}

  /**
   * Builds the chain and binds every listener. Answered queries go to `events` as detection
   * events (the hub, or a worker's batcher) and are counted in `metrics`; with dnstap on,
   * replies and upstream exchanges also go to its receiver. `upstreamHealth` hears when
   * every upstream starts or stops failing (with the reason, else null); candidate names
   * for the discovery queue go to `discovery` (the primary) once a second.
   */
  static async start(
    config: Config,
    log: Logger,
    events: EventSink | null = null,
    metrics = new ResolverMetrics(),
    upstreamHealth?: (everyFailing: string | null) => void,
    discovery: ((report: DiscoveryReportMessage) => void) | null = null,
    shared: FromPrimary = {},
  ): Promise<Resolver> {
    // dnstap (protobufjs) and the notice page (fastify) are loaded only where configured:
    // each would cost every worker about 1 and 3 MiB of heap and more of code otherwise.
    const dnstap = config.dnstap.target === '' ? null : (await import('../dnstap/dnstap-output.js')).DnstapOutput.open(config.dnstap, { identity: instanceName(config), version: `wachtpost ${VERSION}` }, log);
    const health = new UpstreamHealth(log.child({ component: 'upstream' }), upstreamHealth);
    const chain = buildResolverChain(config, new ExchangeObservers([metrics.upstream, health, ...(dnstap?.tap.wantsExchanges ? [dnstap.tap] : [])]), shared);
    health.track(chain.upstream.servers);
    logCatalogue(log, chain.detection.current, config, 'detection and policy loaded');
    for (const expired of chain.policy.current.expired) log.warn({ exemption: expired }, 'exemption has expired and no longer applies');
    const writer = new ReplyWriter({ minTtl: config.cache.min_ttl, maxTtl: config.cache.max_ttl, udpSize: config.dns.udp_size });
    const recording = events !== null && config.detection.enabled;
    const folder = recording && config.events.fold_window_ms > 0 ? new RepeatFolder(events, config.events.fold_window_ms) : null;
    const detections = recording ? new DetectionCounts() : null;
    const recorder = recording ? new EventRecorder(chain.detection, folder ?? events, instanceName(config), config.events.all_queries, detections) : null;
    const observer =
      discovery !== null && config.detection.enabled && config.discovery.enabled ? new DiscoveryObserver(chain.detection, config.discovery.window_ms, discovery) : null;
    const limits = config.rate_limit;
    const errorRate =
      limits.errors_per_second > 0 ? new RateLimit({ perSecond: limits.errors_per_second, burst: limits.error_burst, exempt: new ClientAcl(limits.exempt) }) : null;
    const responder = new Responder(
      writer,
      log,
      [metrics.queries, ...(recorder === null ? [] : [recorder]), ...(observer === null ? [] : [observer])],
      dnstap?.tap.wantsReplies ? [metrics.latency, dnstap.tap] : [metrics.latency],
      errorRate,
    );
    const dispatcher = new Dispatcher(chain.head, responder);
    const resolver = new Resolver(chain, dispatcher, responder, [], [], log);
    resolver.errorRate = errorRate;
    resolver.readDatabase = shared.readDatabase;
    resolver.folder = folder;
    resolver.dnstapOutput = dnstap;
    resolver.health = health;
    resolver.discovery = observer;
    detections?.register(metrics.registry);
    metrics.attach(resolver, {
      get recorded() {
        return recorder?.recorded ?? 0;
      },
      get dropped() {
        return events?.dropped ?? 0;
      },
      get folded() {
        return folder?.folded ?? 0;
      },
    });
    const tcp = config.dns.tcp;
    const tcpSettings = {
      idleTimeoutMs: tcp.idle_timeout_ms,
      messageTimeoutMs: tcp.message_timeout_ms,
      maxConnections: tcp.max_connections,
      maxConnectionsPerClient: tcp.max_connections_per_client,
      maxInFlightPerConnection: tcp.max_in_flight_per_connection,
      maxUnsentBytes: tcp.max_unsent_bytes,
    };
    const admission = (client: string): boolean => chain.acl.allows(client);
    try {
      for (const text of config.dns.listen) {
        const address = parseHostPort(text, 53);
        const udp = openUdpEndpoint(address, config.dns.udp_batching, config.dns.workers, dispatcher, log);
        await udp.listen().catch((error: unknown) => Promise.reject(bindError(`DNS on ${text} (UDP)`, error)));
        resolver.udp.push(udp);
        dnstap?.tap.listening(udp, address.host, udp.address.port);
        // Port 0 (tests) picks a free UDP port; TCP then takes the same number.
        const tcp = new TcpListener(address.host, udp.address.port, address.family, dispatcher, tcpSettings, admission, log);
        resolver.tcpListeners.push(tcp);
        await tcp.listen().catch((error: unknown) => Promise.reject(bindError(`DNS on ${text} (TCP)`, error)));
        dnstap?.tap.listening(tcp, address.host, udp.address.port);
      }
      await resolver.listenEncrypted(config, tcpSettings, dispatcher, log);
      if (config.policy.sinkhole.listen !== '') {
        const { startNoticeServer } = await import('../policy/notice-server.js');
        resolver.notice = await startNoticeServer(config.policy.sinkhole.listen, chain.detection, chain.policy, log);
      }
    } catch (error) {
      await resolver.close();
      throw error;
    }
    return resolver;
  }

  /** DoT and DoH listeners on every `encrypted` address, sharing one reloading certificate. */
  private async listenEncrypted(config: Config, tcpSettings: TcpSettings, dispatcher: Dispatcher, log: Logger): Promise<void> {
    const encrypted = config.encrypted;
    if (encrypted.dot.length === 0 && encrypted.doh.length === 0) return;
    const credentials = TlsCredentials.open(encrypted.tls_cert, encrypted.tls_key, encrypted.client_ca, log.child({ component: 'tls' }));
    this.credentials = credentials;
    const access = this.chain.access;
    const admission: EncryptedAdmission = (client, device, certified) => access.admits(client, device, certified);
    const closeUnadmitted = encrypted.unadmitted === 'close';
    for (const text of encrypted.dot) {
      const address = parseHostPort(text, 853);
      const layer = new DotHandshake(credentials, { serverName: encrypted.server_name, closeUnadmitted }, admission);
      this.dotLayers.push(layer);
      // Who may connect is known only after the handshake (the device): every address gets a slot, within the caps.
      const listener = new TcpListener(address.host, address.port, address.family, dispatcher, tcpSettings, () => true, log, layer);
      this.tcpListeners.push(listener);
      await listener.listen().catch((error: unknown) => Promise.reject(bindError(`DNS over TLS on ${text}`, error)));
      this.dnstapOutput?.tap.listening(listener, address.host, listener.address.port);
    }
    const proxies = encrypted.trusted_proxies.length === 0 ? null : new ClientAcl(encrypted.trusted_proxies);
    for (const text of encrypted.doh) {
      const address = parseHostPort(text, 443);
      const listener = new DohListener(
        address.host,
        address.port,
        address.family,
        dispatcher,
        credentials,
        {
          serverName: encrypted.server_name,
          closeUnadmitted,
          trustedProxy: proxies === null ? null : (peer) => proxies.allows(peer),
          maxStreams: encrypted.max_streams,
          maxConnections: tcpSettings.maxConnections,
          maxConnectionsPerClient: tcpSettings.maxConnectionsPerClient,
          idleTimeoutMs: tcpSettings.idleTimeoutMs,
        },
        admission,
        log,
      );
      this.dohListeners.push(listener);
      await listener.listen().catch((error: unknown) => Promise.reject(bindError(`DNS over HTTPS on ${text}`, error)));
      this.dnstapOutput?.tap.listening(listener, address.host, listener.address.port);
    }
  }

  /** Where the encrypted listeners are bound (port 0 resolved), for tests and logs. */
  get encryptedAddresses(): { dot: BoundAddress[]; doh: BoundAddress[] } {
    const bound = (listener: { address: { address: string; port: number } }): BoundAddress => ({ host: listener.address.address, port: listener.address.port });
    return { dot: this.tcpListeners.filter((listener) => listener.protocol === 'dot').map(bound), doh: this.dohListeners.map(bound) };
  }

  /**
   * Loads catalogue, watch list, GeoIP databases and policy from `config`, validates them
   * together and swaps them in with two assignments; queries in flight finish on the old
   * set. On any error the running set stays and the error is thrown for the caller to log.
   * Listener, upstream and cache settings need a restart.
   */
  reload(config: Config): void {
    const detection = loadDetection(config, undefined, this.readDatabase);
    const policy = Policy.compile(config, detection.catalogue, detection.watchlist);
    const deviceMap = this.chain.access.deviceMap;
    // The map's file is read at start; a reload re-reads it (a new path needs a restart).
    const devices = deviceMap === null || config.identity.static_map === '' ? null : DeviceMap.read(config.identity.static_map);
    this.chain.detection.current = detection;
    this.chain.policy.current = policy;
    if (deviceMap !== null && devices !== null) deviceMap.current = devices;
    for (const expired of policy.expired) this.log.warn({ exemption: expired }, 'exemption has expired and no longer applies');
    logCatalogue(this.log, detection, config, 'detection and policy reloaded');
  }

  get catalogueVersion(): string {
    return this.chain.detection.current.catalogue.info?.version ?? 'none';
  }

  get replies(): ResolverReadings['replies'] {
    return this.responder.counters;
  }

  get cache(): ResolverReadings['cache'] {
    const stage = this.chain.cache;
    const cache = stage.cache;
    return {
      ...stage.counters,
      entries: cache.size,
      answerBytes: cache.answerBytes,
      shared: cache.shared,
      evictedForEntries: cache.evictions.forEntries,
      evictedForBytes: cache.evictions.forBytes,
      resets: cache.evictions.resets,
    };
  }

  get upstreamServers(): ResolverReadings['upstreamServers'] {
    return this.chain.upstream.servers;
  }

  get upstreamStates(): ResolverReadings['upstreamStates'] {
    return this.health?.states ?? [];
  }

  /** Why every upstream is failing right now, or null. */
  get upstreamFailing(): string | null {
    return this.health?.everyFailing ?? null;
  }

  get dnstap(): ResolverReadings['dnstap'] {
    return this.dnstapOutput?.readings ?? null;
  }

  /** UDP datagrams dropped unread and replies lost, over every listener. */
  get udpLosses(): { oversized: number; replies: number } {
    const total = { oversized: 0, replies: 0 };
    for (const listener of this.udp) {
      const losses = listener.losses;
      total.oversized += losses.oversized;
      total.replies += losses.replies;
    }
    return total;
  }

  get rateLimited(): ResolverReadings['rateLimited'] {
    return { queries: this.chain.access.rate?.limited ?? 0, errorReplies: this.errorRate?.limited ?? 0 };
  }

  get upstream(): ResolverReadings['upstream'] {
    const upstream = this.chain.upstream;
    return { lateAnswers: upstream.forwardCounters.lateAnswers, failing: upstream.failedRecently(Date.now()) ? 1 : 0 };
  }

  get tcp(): ResolverReadings['tcp'] {
    const total = { open: 0, refusedNotAdmitted: 0, refusedPerClient: 0, refusedFull: 0, closedIdle: 0, closedForRoom: 0, closedSlowMessage: 0, readsPausedUnsent: 0 };
    for (const listener of this.tcpListeners) {
      const counters = listener.counters;
      total.open += listener.openConnections;
      total.refusedNotAdmitted += counters.refusedNotAdmitted;
      total.refusedPerClient += counters.refusedPerClient;
      total.refusedFull += counters.refusedFull;
      total.closedIdle += counters.closedIdle;
      total.closedForRoom += counters.closedForRoom;
      total.closedSlowMessage += counters.closedSlowMessage;
      total.readsPausedUnsent += counters.readsPausedUnsent;
    }
    return total;
  }

  get encrypted(): ResolverReadings['encrypted'] {
    const total = { handshakes: 0, resumed: 0, handshakeFailures: 0, invalidDevice: 0, notAdmitted: 0, dohStatuses: new Map<number, number>(), dohRefused: 0 };
    for (const { counters } of this.dotLayers) {
      total.handshakes += counters.handshakes;
      total.resumed += counters.resumed;
      total.handshakeFailures += counters.handshakeFailures;
      total.invalidDevice += counters.invalidDevice;
      total.notAdmitted += counters.notAdmitted;
    }
    for (const { counters } of this.dohListeners) {
      total.handshakeFailures += counters.tlsFailures;
      total.dohRefused += counters.refusedConnections;
      counters.statuses.forEach((count, status) => total.dohStatuses.set(status, (total.dohStatuses.get(status) ?? 0) + count));
    }
    return total;
  }

  get addresses(): BoundAddress[] {
    return this.udp.map((listener) => ({ host: listener.address.address, port: listener.address.port }));
  }

  /**
   * Stops taking queries, lets those in flight finish (at most `timeoutMs`), then closes.
   * Idempotent: a second signal waits for the first drain.
   */
  drain(timeoutMs: number): Promise<void> {
    this.draining ??= this.runDrain(timeoutMs);
    return this.draining;
  }

  private async runDrain(timeoutMs: number): Promise<void> {
    for (const listener of [...this.udp, ...this.tcpListeners, ...this.dohListeners]) listener.stopAccepting();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    });
    const expired = await Promise.race([this.dispatcher.idle().then(() => false), timedOut]);
    clearTimeout(timer);
    if (expired) this.log.warn({ inFlight: this.dispatcher.inFlight }, 'drain timed out with queries still in flight');
    await this.close();
  }

  async close(): Promise<void> {
    await this.notice?.close();
    await Promise.all([...this.udp, ...this.tcpListeners, ...this.dohListeners].map((listener) => listener.close()));
    this.credentials?.close();
    for (const stage of this.chain.stages) await stage.close();
    // After the listeners: no query can start a fold any more, and held counts go out.
    this.folder?.close();
    this.health?.close();
    await this.dnstapOutput?.close();
    this.discovery?.close();
  }
}

/** Which catalogue release now tags queries, and what the local rules add to it. */
function logCatalogue(log: Logger, detection: Detection, config: Config, message: string): void {
  const { info, apps, ruleCount, local } = detection.catalogue;
  log.info(
    { catalogue: info?.version ?? 'none', apps: apps.length, rules: ruleCount, localApps: local.apps.length, localRules: local.rules.length, mode: config.mode },
    message,
  );
}
