import type { Logger } from 'pino';
import type { LoadOptions } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { SHIPPED } from '../tagging/shipped-data.js';
import { claimPorts, usesOwnSockets } from '../transport/claim-ports.js';
import { ControlPlane } from './control-plane.js';
import { PolicySharing } from './policy-sharing.js';
import { ReloadWatcher } from './reload-watcher.js';
import { WORKER_SOURCE_ENV, type WorkerMessage } from './worker-messages.js';
import { WorkerMetrics } from './worker-metrics.js';
import { WorkerPool } from './worker-pool.js';

/**
 * The primary process: the control plane (events, history, feed, HTTP) and `workers` DNS
 * workers, all serving the DNS ports (each on TCP and batched UDP sockets of its own, so
 * the kernel spreads clients over them and the primary holds no connection; without the
 * addon, Node's cluster shares one dgram socket and hands TCP connections out). SIGHUP reloads every worker; SIGTERM/SIGINT drains every worker, then closes
 * the control plane and exits 0.
 */
export async function runPrimary(config: Config, source: LoadOptions, workerScript: string, workers: number, log: Logger): Promise<void> {
  // Every worker binds sockets of its own (TCP, and batched UDP) on ports the primary proved free.
  const listen = usesOwnSockets(config.dns.udp_batching) ? await claimPorts(config.dns.listen, 53) : config.dns.listen;
  const env = { [WORKER_SOURCE_ENV]: JSON.stringify({ ...source, overrides: { ...source.overrides, listen } }) };
  const metrics = new WorkerMetrics();
  let plane: ControlPlane | null = null;
  const pool = new WorkerPool(workers, env, log, (worker, message: WorkerMessage) => {
    switch (message.type) {
      case 'events':
        return plane?.events.handOver(message);
      case 'metrics':
        return metrics.answered(message);
      case 'ready':
        return sharing.workerReady(worker);
      case 'upstream-failing':
        // Every worker asks the same upstreams: the others serve stale answers at once too.
        for (const other of pool.live()) if (other !== worker) other.send(message);
        return;
    }
  });
  const sharing = new PolicySharing(source, (message) => pool.broadcast(message), (accepted) => plane?.events.sharePolicy(accepted), log);
  // Up before any worker, so the first event a worker sends has a hub to go to.
  plane = await ControlPlane.start(config, log, {
    ready: () => pool.ready,
    applySharedPolicy: (shared) => sharing.adopt(shared),
    remoteMetrics: () => metrics.collect(pool.live()),
  });
  await pool.start(workerScript);
  log.info({ listen, http: config.http.listen, upstream: config.upstream.servers, workers, mode: config.mode }, 'wachtpost ready');

  // Workers watch the files themselves; the primary watches too, to share an accepted policy change.
  const watcher =
    config.redis.url === ''
      ? null
      : new ReloadWatcher([source.file, config.detection.catalogue || SHIPPED.catalogue].filter((path): path is string => path !== undefined), () =>
          sharing.filesChanged(),
        );
  handleSignals(pool, plane, watcher, config.dns.drain_timeout_ms, log, () => sharing.filesChanged());
}

function handleSignals(pool: WorkerPool, plane: ControlPlane, watcher: ReloadWatcher | null, drainTimeoutMs: number, log: Logger, filesChanged: () => void): void {
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    watcher?.close();
    log.info({ signal }, 'draining workers');
    // Workers hand over their last events before they exit; only then is the history closed.
    pool
      .drain(drainTimeoutMs)
      .then(() => plane.close())
      .then(
        () => {
          log.info('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGHUP', () => {
    pool.broadcast({ type: 'reload' });
    filesChanged();
    plane.events.reopenLogs();
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
