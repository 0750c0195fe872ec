import type { Logger } from 'pino';
import { loadConfig, type LoadOptions } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { EventBatcher } from '../events/event-batcher.js';
import { processMetrics } from '../metrics/process-metrics.js';
import { ResolverMetrics } from '../metrics/resolver-metrics.js';
import type { SharedPolicy } from '../scaleout/scale-out.js';
import { detectionFiles } from '../tagging/detection.js';
import { WORKER_SLOT_ENV, type WorkerMessage } from './worker-messages.js';
import { trimHeapWhenIdle } from './heap-trim.js';
import { ReloadWatcher } from './reload-watcher.js';
import { Resolver } from './resolver.js';
import { workerCacheMemory } from './shared-cache.js';
import { workerDatabaseReader } from './shared-geoip.js';

/** A worker hands events to the primary this often, or sooner when this many are waiting. */
const BATCH_INTERVAL_MS = 50;
const BATCH_MAX = 1000;

/**
 * Runs one DNS worker until the primary asks it to drain (or SIGTERM/SIGINT), then drains
 * in-flight queries, hands over its last events and exits 0. Its events go to the primary,
 * which owns the hub, history, feed and HTTP, so nothing but DNS ever runs on this event
 * loop. A reload message from the primary (with a policy another instance shared, or
 * none), SIGHUP, or a change to the configuration, catalogue, local-rules, watch-list or
 * bypass-list files reloads detection and policy; a broken file keeps the running version
 * and says why.
 */
export async function serveWorker(config: Config, log: Logger, source: LoadOptions, onReady: () => void): Promise<Resolver> {
  let draining = false;
  const metrics = new ResolverMetrics();
  const batcher = new EventBatcher({
    maxPending: BATCH_MAX,
    intervalMs: BATCH_INTERVAL_MS,
    send: (message, done) => process.send?.(message, undefined, undefined, done) ?? (done(), false),
  });
  processMetrics(metrics.registry, `worker-${process.env[WORKER_SLOT_ENV] ?? process.pid}`);
  trimHeapWhenIdle();
  const resolver = await Resolver.start(
    config,
    log,
    batcher,
    metrics,
    (failing) => process.send?.({ type: 'upstream', failing } satisfies WorkerMessage),
    (report) => process.send?.(report satisfies WorkerMessage),
    { cacheMemory: workerCacheMemory() ?? undefined, readDatabase: workerDatabaseReader() },
  );
  const upstream = resolver.chain.upstream;
  upstream.onFailureRemembered = (forMs) => process.send?.({ type: 'upstream-failing', forMs } satisfies WorkerMessage);
  const reload = (reason: string, shared?: SharedPolicy): void => {
    try {
      resolver.reload(loadConfig(shared === undefined ? source : { ...source, shared }));
      if (shared !== undefined) log.info({ from: shared.from }, 'policy shared by another instance applied');
    } catch (error) {
      log.error({ reason, err: error }, 'reload refused; the running configuration stays');
    }
  };
  const watcher = new ReloadWatcher(
    [source.file, ...detectionFiles(config.detection), config.identity.static_map || undefined].filter((path): path is string => path !== undefined),
    () => reload('file changed'),
  );
  const stop = (reason: string): void => {
    if (draining) return;
    draining = true;
    watcher.close();
    log.info({ reason }, 'draining');
    resolver
      .drain(config.dns.drain_timeout_ms)
      .then(() => batcher.close())
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
  process.on('SIGHUP', () => reload('SIGHUP'));
  process.on('message', (message: WorkerMessage) => {
    if (message?.type === 'drain') stop('primary asked');
    if (message?.type === 'reload') reload('primary asked', message.shared);
    if (message?.type === 'upstream-failing') upstream.rememberFailure(message.forMs);
    if (message?.type === 'sessions') resolver.chain.access.sessions?.apply(message.changes, message.whole);
    if (message?.type === 'metrics?') {
      metrics.registry.getMetricsAsJSON().then((values) => process.send?.({ type: 'metrics', id: message.id, values } satisfies WorkerMessage));
    }
  });
  onReady();
  return resolver;
}
