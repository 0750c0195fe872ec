import type { Logger } from 'pino';
import { loadConfig, type LoadOptions } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { SHIPPED } from '../tagging/shipped-data.js';
import { ClaimError, claimPorts, claimTcpPorts, usesOwnSockets } from '../transport/claim-ports.js';
import { bindError } from './bind-error.js';
import { ControlPlane } from './control-plane.js';
import { PolicySharing } from './policy-sharing.js';
import { RadiusService } from './radius-service.js';
import { trimHeapWhenIdle } from './heap-trim.js';
import { ReloadWatcher } from './reload-watcher.js';
import { WORKER_SOURCE_ENV, type WorkerMessage } from './worker-messages.js';
import { WorkerMetrics } from './worker-metrics.js';
import { KILL_GRACE_MS, WorkerPool } from './worker-pool.js';
import { createSharedCache, type SharedCache } from './shared-cache.js';
import { shareGeoDatabases, type SharedGeoDatabases } from './shared-geoip.js';
import { INHERITED_FD } from './shared-memory.js';

/**
 * The primary process: the control plane (events, history, feed, HTTP) and `workers` DNS
 * workers, all serving the DNS ports (each on TCP and batched UDP sockets of its own, so
 * the kernel spreads clients over them and the primary holds no connection; without the
 * addon, Node's cluster shares one dgram socket and hands TCP connections out). SIGHUP
 * reloads every worker and the primary's API tokens; SIGTERM/SIGINT drains every worker,
 * then closes the control plane and exits 0, always within the drain timeout plus
 * KILL_GRACE_MS plus CLOSE_BOUND_MS (exit 1 when that bound cuts it short); a second signal
 * exits 1 at once.
 */
export async function runPrimary(config: Config, source: LoadOptions, workerScript: string, workers: number, log: Logger): Promise<void> {
  // Every worker binds sockets of its own (TCP, and batched UDP) on ports the primary proved free.
  const ownSockets = usesOwnSockets(config.dns.udp_batching);
  const claimError = (what: string) => (error: unknown) =>
    Promise.reject(error instanceof ClaimError ? bindError(`${what} on ${error.listen} (${error.protocol})`, error.reason) : error);
  const listen = ownSockets ? await claimPorts(config.dns.listen, 53).catch(claimError('DNS')) : config.dns.listen;
  const dot = ownSockets ? await claimTcpPorts(config.encrypted.dot, 853).catch(claimError('DNS over TLS')) : config.encrypted.dot;
  const doh = ownSockets ? await claimTcpPorts(config.encrypted.doh, 443).catch(claimError('DNS over HTTPS')) : config.encrypted.doh;
  const cache = createSharedCache(config, log);
  const geoip = shareGeoDatabases(config, log);
  // The count resolved (0 in the file means one per core): each worker's UDP socket spreads queries over that many.
  const env = { [WORKER_SOURCE_ENV]: JSON.stringify({ ...source, overrides: { ...source.overrides, listen, dot, doh, workers } }), ...cache?.env, ...geoip?.env };
  const metrics = new WorkerMetrics();
  /** Each worker's report that every upstream is failing, by worker id. */
  const upstreamFailing = new Map<number, string>();
  let plane: ControlPlane | null = null;
  const pool = new WorkerPool(workers, env, log, (worker, message: WorkerMessage) => {
    switch (message.type) {
      case 'events':
        return plane?.events.handOver(message);
      case 'discovery':
        return plane?.discovery?.merge(message);
      case 'metrics':
        return metrics.answered(message);
      case 'ready':
        radius?.workerReady(worker);
        return sharing.workerReady(worker);
      case 'upstream':
        if (message.failing === null) upstreamFailing.delete(worker.id);
        else upstreamFailing.set(worker.id, message.failing);
        return;
      case 'upstream-failing':
        // Every worker asks the same upstreams: the others serve stale answers at once too.
        for (const other of pool.live()) if (other !== worker) other.send(message);
        return;
    }
  }, inheritedFds(cache, geoip));
  const sharing = new PolicySharing(source, (message) => pool.broadcast(message), (accepted) => plane?.events.sharePolicy(accepted), log);
  // Up before any worker, so the first event a worker sends has a hub to go to.
  plane = await ControlPlane.start(config, log, {
    ready: () => pool.ready,
    applySharedPolicy: (shared) => sharing.adopt(shared),
    remoteMetrics: () => metrics.collect(pool.live()),
    dnsDegraded: () => {
      const live = pool.live().map((worker) => worker.id);
      return [...new Set(live.map((id) => upstreamFailing.get(id)).filter((reason) => reason !== undefined))];
    },
  });
  let radius: RadiusService | null = null;
  try {
    const events = plane.events;
    radius = await RadiusService.start(config, plane.registry, (message) => pool.broadcast(message), (apply) => events.followSessions(apply), log);
    await pool.start(workerScript);
  } catch (error) {
    await pool.drain(0);
    await radius?.close();
    await plane.close();
    throw error;
  }
  log.info({ listen, dot, doh, http: config.http.listen, upstream: config.upstream.servers, workers, mode: config.mode }, 'wachtpost ready');
  trimHeapWhenIdle();

  // Workers watch the files themselves; the primary watches too, for the API tokens and (with
  // Redis) to share an accepted policy change.
  const control = plane;
  const filesChanged = (): void => {
    let reloaded;
    try {
      reloaded = loadConfig(source);
    } catch (error) {
      log.error({ err: error }, 'configuration not reloaded; the API tokens stay as they are');
      return;
    }
    control.reloadTokens(reloaded.api);
    control.reloadPolicy(reloaded.policy);
    sharing.filesChanged(reloaded);
  };
  const watched = [source.file, config.redis.url === '' ? undefined : config.detection.catalogue || SHIPPED.catalogue];
  const watcher = new ReloadWatcher(
    watched.filter((path): path is string => path !== undefined),
    filesChanged,
  );
  handleSignals(pool, plane, radius, watcher, config.dns.drain_timeout_ms, log, filesChanged);
}

/** What every worker inherits, by the descriptor it finds it on. */
function inheritedFds(cache: SharedCache | null, geoip: SharedGeoDatabases | null): Map<number, number> {
  const fds = new Map<number, number>();
  if (cache !== null) fds.set(INHERITED_FD.cache, cache.fd);
  if (geoip !== null) fds.set(INHERITED_FD.country, geoip.fds[0]).set(INHERITED_FD.asn, geoip.fds[1]);
  return fds;
}

/**
 * Beyond the drain timeout and the workers' kill grace, how long closing the control plane
 * (HTTP, the hand-over to Redis, the last history and SIEM writes) may take in all. Each of
 * those steps has a shorter deadline of its own; this bound catches anything they miss.
 */
export const CLOSE_BOUND_MS = 10_000;

function handleSignals(pool: WorkerPool, plane: ControlPlane, radius: RadiusService | null, watcher: ReloadWatcher, drainTimeoutMs: number, log: Logger, filesChanged: () => void): void {
  /** What the shutdown is doing, for the log when it has to be cut short; null while serving. */
  let stage: string | null = null;
  const exit = (code: number): never => process.exit(code);
  const shutdown = (signal: string): void => {
    if (stage !== null) {
      log.error({ signal, stage }, 'second signal during shutdown: exiting at once');
      exit(1);
    }
    stage = 'draining workers';
    const boundMs = drainTimeoutMs + KILL_GRACE_MS + CLOSE_BOUND_MS;
    setTimeout(() => {
      log.error({ stage, bound_ms: boundMs }, 'shutdown did not finish in time: exiting');
      exit(1);
    }, boundMs);
    watcher.close();
    log.info({ signal }, 'draining workers');
    // Workers hand over their last events before they exit; only then is the history closed.
    pool
      .drain(drainTimeoutMs)
      .then(() => {
        stage = 'closing RADIUS accounting, HTTP, the event stream, the history and the SIEM export';
        return radius?.close();
      })
      .then(() => plane.close())
      .then(
        () => {
          log.info('stopped');
          exit(0);
        },
        (error: unknown) => {
          log.error({ err: error }, 'shutdown failed');
          exit(1);
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
