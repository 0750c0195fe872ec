import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { LoadOptions } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { startHealthServer } from '../http/health-server.js';

/** Environment variable that tells each worker where its configuration comes from. */
export const WORKER_SOURCE_ENV = 'WACHTPOST_WORKER_SOURCE';
const RESTART_DELAY_MS = 1000;
/** Beyond the drain timeout, how long the primary waits before killing a worker. */
const KILL_GRACE_MS = 2000;

export type WorkerMessage = { type: 'ready' } | { type: 'drain' } | { type: 'reload' };

/**
 * The primary process: forks one worker per configured core, all sharing the DNS ports
 * (Node's cluster hands every worker the same UDP socket and balances TCP connections).
 * A worker that dies is replaced; SIGHUP reloads every worker; SIGTERM/SIGINT drains every
 * worker and then exits 0.
 */
export async function runPrimary(config: Config, source: LoadOptions, workerScript: string, workers: number, log: Logger): Promise<void> {
  cluster.setupPrimary({ exec: workerScript, args: [], silent: false });
  const env = { [WORKER_SOURCE_ENV]: JSON.stringify(source) };
  let draining = false;

  const fork = (): Worker => cluster.fork(env);
  cluster.on('exit', (worker, code, signal) => {
    if (draining) return;
    log.error({ worker: worker.process.pid, code, signal }, 'worker exited; starting a replacement');
    setTimeout(fork, RESTART_DELAY_MS).unref();
  });

  let readyWorkers = 0;
  const ready = new Promise<void>((resolve) => {
    cluster.on('message', (_worker, message: WorkerMessage) => {
      if (message.type === 'ready' && ++readyWorkers === workers) resolve();
    });
  });
  cluster.on('exit', () => {
    readyWorkers = Math.max(0, readyWorkers - 1);
  });
  const http = await startHealthServer(config.http.listen, { ready: () => !draining && readyWorkers >= workers }, log);
  for (let i = 0; i < workers; i++) fork();
  await ready;
  log.info({ listen: config.dns.listen, http: config.http.listen, upstream: config.upstream.servers, workers, mode: config.mode }, 'wachtpost ready');

  const shutdown = (signal: string): void => {
    if (draining) return;
    draining = true;
    log.info({ signal }, 'draining workers');
    const alive = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined);
    for (const worker of alive) worker.send({ type: 'drain' } satisfies WorkerMessage);
    const killer = setTimeout(() => {
      for (const worker of alive) if (!worker.isDead()) worker.kill('SIGKILL');
    }, config.dns.drain_timeout_ms + KILL_GRACE_MS);
    const exits = alive.map((worker) => (worker.isDead() ? null : new Promise((resolve) => worker.once('exit', resolve))));
    Promise.all([...exits, http.close()]).then(() => {
      clearTimeout(killer);
      log.info('stopped');
      process.exit(0);
    });
  };
  // Each worker validates and swaps on its own; a broken file is refused by all alike.
  process.on('SIGHUP', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.send({ type: 'reload' } satisfies WorkerMessage);
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
