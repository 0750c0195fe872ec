import type { Logger } from 'pino';
import { loadConfig, type LoadOptions } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { EventBatcher, type EventBatchMessage } from '../events/event-batcher.js';
import type { EventSink } from '../events/event-recorder.js';
import { ResolverMetrics } from '../metrics/resolver-metrics.js';
import { SHIPPED } from '../tagging/shipped-data.js';
import type { WorkerMessage } from './cluster.js';
import type { SharedPolicy } from '../scaleout/scale-out.js';
import { ControlPlane } from './control-plane.js';
import { ReloadWatcher } from './reload-watcher.js';
import { Resolver } from './resolver.js';

export interface ServeOptions {
  /** Run the SOC side (hub, history, HTTP) here: a single process. A cluster worker sends its events to the primary instead. */
  controlPlane: boolean;
  /** Where the configuration came from, to load it again on SIGHUP or a file change. */
  source: LoadOptions;
  onReady?: () => void;
}

/** A worker hands events to the primary this often, or sooner when this many are waiting. */
const BATCH_INTERVAL_MS = 50;
const BATCH_MAX = 1000;

/**
 * Runs one resolver in this process until SIGTERM/SIGINT (or, in a cluster worker, the
 * primary's drain message), then drains in-flight queries, hands over every event and
 * exits 0. SIGHUP, a reload message from the primary, or a change to the configuration,
 * catalogue, watch-list or bypass-list files reloads detection and policy; a broken file
 * keeps the running version and says why.
 */
export async function serveInProcess(config: Config, log: Logger, options: ServeOptions): Promise<Resolver> {
  let draining = false;
  let resolver: Resolver | null = null;
  const metrics = new ResolverMetrics();
  /**
   * Loads the configuration again (with a policy another instance shared, if given) and
   * swaps detection and policy; a policy changed here is shared in turn.
   */
  const reload = (reason: string, shared?: SharedPolicy): void => {
    try {
      const next = loadConfig(shared === undefined ? options.source : { ...options.source, shared });
      resolver?.reload(next);
      if (shared === undefined) control?.sharePolicy(next);
      else log.info({ from: shared.from }, 'policy shared by another instance applied');
    } catch (error) {
      log.error({ reason, err: error }, 'reload refused; the running configuration stays');
    }
  };
  const control = options.controlPlane
    ? await ControlPlane.start(config, log, {
        ready: () => !draining,
        applySharedPolicy: (shared) => reload('shared policy', shared),
        localRegistry: metrics.registry,
        remoteMetrics: async () => [],
      })
    : null;
  const batcher = control === null ? workerBatcher() : null;
  const sink: EventSink = control?.hub ?? batcher!;
  resolver = await Resolver.start(config, log, sink, metrics);
  const running = resolver;
  const watcher = new ReloadWatcher(
    [
      options.source.file,
      config.detection.catalogue || SHIPPED.catalogue,
      config.detection.jurisdictions || SHIPPED.jurisdictions,
      config.detection.bypass_endpoints || SHIPPED.bypassEndpoints,
    ].filter((path): path is string => path !== undefined),
    () => reload('file changed'),
  );
  const stop = (reason: string): void => {
    if (draining) return;
    draining = true;
    watcher.close();
    log.info({ reason }, 'draining');
    running
      .drain(config.dns.drain_timeout_ms)
      .then(() => Promise.all([batcher?.close(), control?.close()]))
      .then(
        () => process.exit(0),
        (error: unknown) => {
          log.error({ err: error }, 'drain failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    reload('SIGHUP');
    control?.reopenLogs();
  });
  process.on('message', (message: WorkerMessage) => {
    if (message?.type === 'drain') stop('primary asked');
    if (message?.type === 'reload') reload('primary asked', message.shared);
    if (message?.type === 'metrics?') {
      metrics.registry.getMetricsAsJSON().then((values) => process.send?.({ type: 'metrics', id: message.id, values } satisfies WorkerMessage));
    }
  });
  options.onReady?.();
  return running;
}

/** A cluster worker's events travel to the primary over the IPC channel, in batches. */
function workerBatcher(): EventBatcher {
  return new EventBatcher({
    maxPending: BATCH_MAX,
    intervalMs: BATCH_INTERVAL_MS,
    send: (message: EventBatchMessage, done) => process.send?.(message, undefined, undefined, done) ?? (done(), false),
  });
}
