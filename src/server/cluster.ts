import cluster, { type Worker } from 'node:cluster';
import { claimUdpPorts, usesOwnSockets } from '../transport/udp-endpoints.js';
import type { Logger } from 'pino';
import type { LoadOptions } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { EventBatchMessage } from '../events/event-batcher.js';
import { loadConfig } from '../config/load.js';
import type { SharedPolicy } from '../scaleout/scale-out.js';
import { SHIPPED } from '../tagging/shipped-data.js';
import { ControlPlane, type MetricsJson } from './control-plane.js';
import { ReloadWatcher } from './reload-watcher.js';

/** Environment variable that tells each worker where its configuration comes from. */
export const WORKER_SOURCE_ENV = 'WACHTPOST_WORKER_SOURCE';
const RESTART_DELAY_MS = 1000;
/** Beyond the drain timeout, how long the primary waits before killing a worker. */
const KILL_GRACE_MS = 2000;

/** A worker's answer to a metrics request must come within this, or the scrape goes on without it. */
const METRICS_TIMEOUT_MS = 1000;

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'drain' }
  /** Reload the files; with `shared`, use that policy (from another instance) instead of the file's. */
  | { type: 'reload'; shared?: SharedPolicy }
  | { type: 'metrics?'; id: number }
  | { type: 'metrics'; id: number; values: MetricsJson }
  | EventBatchMessage;

/**
 * The primary process: forks one worker per configured core, all serving the DNS ports
 * (each on a batched UDP socket of its own, or Node's cluster hands every worker the same
 * dgram socket; TCP connections are balanced by the cluster).
 * A worker that dies is replaced; SIGHUP reloads every worker; SIGTERM/SIGINT drains every
 * worker and then exits 0.
 */
export async function runPrimary(config: Config, source: LoadOptions, workerScript: string, workers: number, log: Logger): Promise<void> {
  // Structured clone carries event batches without a JSON round trip.
  cluster.setupPrimary({ exec: workerScript, args: [], silent: false, serialization: 'advanced' });
  // Batched UDP: every worker binds a socket of its own, on ports the primary proved free.
  const listen = usesOwnSockets(config.dns.udp_batching) ? await claimUdpPorts(config.dns.listen, 53) : config.dns.listen;
  const env = { [WORKER_SOURCE_ENV]: JSON.stringify({ ...source, overrides: { ...source.overrides, listen } }) };
  let draining = false;

  const fork = (): Worker => cluster.fork(env);
  cluster.on('exit', (worker, code, signal) => {
    if (draining) return;
    log.error({ worker: worker.process.pid, code, signal }, 'worker exited; starting a replacement');
    setTimeout(fork, RESTART_DELAY_MS).unref();
  });

  let readyWorkers = 0;
  /** The policy another instance shared last, while no local change replaced it. */
  let shared: SharedPolicy | undefined;
  const broadcast = (message: WorkerMessage): void => {
    for (const worker of liveWorkers()) worker.send(message);
  };
  const metricsRequests = new Map<number, (values: MetricsJson) => void>();
  let nextRequest = 0;
  const workerMetrics = (worker: Worker): Promise<MetricsJson> =>
    new Promise((resolve) => {
      const id = nextRequest++;
      const timer = setTimeout(() => {
        metricsRequests.delete(id);
        resolve([]);
      }, METRICS_TIMEOUT_MS);
      metricsRequests.set(id, (values) => {
        clearTimeout(timer);
        metricsRequests.delete(id);
        resolve(values);
      });
      worker.send({ type: 'metrics?', id } satisfies WorkerMessage);
    });
  // Up before any worker, so the first event a worker sends has a hub to go to.
  const plane = await ControlPlane.start(config, log, {
    ready: () => !draining && readyWorkers >= workers,
    applySharedPolicy: (next) => {
      try {
        loadConfig({ ...source, shared: next });
      } catch (error) {
        log.error({ from: next.from, err: error }, 'policy shared by another instance refused; the running one stays');
        return;
      }
      shared = next;
      broadcast({ type: 'reload', shared });
      log.info({ from: next.from }, 'policy shared by another instance applied');
    },
    remoteMetrics: () => Promise.all(liveWorkers().map(workerMetrics)),
  });
  const ready = new Promise<void>((resolve) => {
    cluster.on('message', (worker: Worker, message: WorkerMessage) => {
      switch (message.type) {
        case 'events':
          for (const event of message.events) plane.hub.publish(event);
          plane.hub.counters.droppedInWorkers += message.dropped;
          return;
        case 'metrics':
          metricsRequests.get(message.id)?.(message.values);
          return;
        case 'ready':
          // A replacement worker starts from the file: give it the deployment's policy.
          if (shared !== undefined) worker.send({ type: 'reload', shared } satisfies WorkerMessage);
          if (++readyWorkers === workers) resolve();
      }
    });
  });
  cluster.on('exit', () => {
    readyWorkers = Math.max(0, readyWorkers - 1);
  });
  for (let i = 0; i < workers; i++) fork();
  await ready;
  log.info({ listen, http: config.http.listen, upstream: config.upstream.servers, workers, mode: config.mode }, 'wachtpost ready');

  const shutdown = (signal: string): void => {
    if (draining) return;
    draining = true;
    watcher?.close();
    log.info({ signal }, 'draining workers');
    const alive = liveWorkers();
    for (const worker of alive) worker.send({ type: 'drain' } satisfies WorkerMessage);
    const killer = setTimeout(() => {
      for (const worker of alive) if (!worker.isDead()) worker.kill('SIGKILL');
    }, config.dns.drain_timeout_ms + KILL_GRACE_MS);
    const exits = alive.map((worker) => (worker.isDead() ? null : new Promise((resolve) => worker.once('exit', resolve))));
    // Workers hand over their last events before they exit; only then is the history closed.
    Promise.all(exits)
      .then(() => plane.close())
      .then(
        () => {
          clearTimeout(killer);
          log.info('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  // Each worker validates and swaps on its own; a broken file is refused by all alike. Workers
  // watch the files themselves; the primary watches too, to share an accepted policy change.
  const shareFilePolicy = (): void => {
    shared = undefined;
    try {
      plane.sharePolicy(loadConfig(source));
    } catch {
      // The workers log why the file was refused.
    }
  };
  const watcher =
    config.redis.url === ''
      ? null
      : new ReloadWatcher([source.file, config.detection.catalogue || SHIPPED.catalogue].filter((path): path is string => path !== undefined), shareFilePolicy);
  process.on('SIGHUP', () => {
    broadcast({ type: 'reload' });
    shareFilePolicy();
    plane.reopenLogs();
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

function liveWorkers(): Worker[] {
  return Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined && !worker.isDead());
}
