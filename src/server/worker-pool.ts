import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { WORKER_SLOT_ENV, type WorkerMessage } from './worker-messages.js';

const RESTART_DELAY_MS = 1000;
/** Beyond the drain timeout, how long the primary waits before killing a worker. */
export const KILL_GRACE_MS = 2000;

/**
 * The DNS workers of the primary: forks them, replaces one that dies (after a pause, so a
 * worker that cannot start does not spin), counts those ready, and drains them on shutdown.
 * Each worker has a slot number (1..size, kept by its replacement) that names it in the
 * metrics. Every message a worker sends goes to `onMessage`.
 */
export class WorkerPool {
  private draining = false;
  private readyWorkers = 0;
  private started = false;
  private allReady: () => void = () => {};
  private startFailed: (error: Error) => void = () => {};
  private readonly slots = new Map<number, number>();
  private readonly failures = new Map<number, string>();

  constructor(
    private readonly size: number,
    private readonly env: Record<string, string>,
    private readonly log: Logger,
    private readonly onMessage: (worker: Worker, message: WorkerMessage) => void,
    /** Descriptors every worker inherits: its fd (INHERITED_FD) → the primary's; a gap below the highest is /dev/null. */
    private readonly inherited: ReadonlyMap<number, number> = new Map(),
  ) {}

  /**
   * Forks every worker (running `script`); resolves once each has said it is ready. A
   * worker that cannot start (a port taken, a file unreadable) fails the whole start with
   * its reason, rather than being replaced again and again.
   */
  start(script: string): Promise<void> {
    // Structured clone carries event batches without a JSON round trip.
    const stdio = this.inherited.size === 0 ? undefined : [0, 1, 2, 'ipc', ...inheritedStdio(this.inherited)];
    cluster.setupPrimary({ exec: script, args: [], silent: false, serialization: 'advanced', ...(stdio && { stdio }) });
    cluster.on('exit', (worker, code, signal) => {
      this.readyWorkers = Math.max(0, this.readyWorkers - 1);
      const slot = this.slots.get(worker.id) ?? 0;
      this.slots.delete(worker.id);
      const reason = this.failures.get(worker.id);
      this.failures.delete(worker.id);
      if (this.draining) return;
      if (!this.started) {
        this.startFailed(new Error(reason ?? `a DNS worker exited while starting (code ${code}, signal ${signal})`));
        return;
      }
      this.log.error({ worker: worker.process.pid, code, signal, reason }, 'worker exited; starting a replacement');
      setTimeout(() => this.draining || this.fork(slot), RESTART_DELAY_MS).unref();
    });
    cluster.on('message', (worker: Worker, message: WorkerMessage) => {
      if (message.type === 'failed') this.failures.set(worker.id, message.reason);
      if (message.type === 'ready' && ++this.readyWorkers === this.size) {
        this.started = true;
        this.allReady();
      }
      this.onMessage(worker, message);
    });
    const ready = new Promise<void>((resolve, reject) => {
      this.allReady = resolve;
      this.startFailed = reject;
    });
    for (let slot = 1; slot <= this.size; slot++) this.fork(slot);
    return ready;
  }

  /** Every worker serves DNS, and the pool is not draining. */
  get ready(): boolean {
    return !this.draining && this.readyWorkers >= this.size;
  }

  broadcast(message: WorkerMessage): void {
    for (const worker of this.live()) worker.send(message);
  }

  live(): Worker[] {
    return Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined && !worker.isDead());
  }

  /**
   * Asks every worker to drain (finish its queries, hand over its last events) and resolves
   * when all have exited; one still alive after `timeoutMs` + KILL_GRACE_MS is killed.
   */
  drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    const alive = this.live();
    for (const worker of alive) worker.send({ type: 'drain' } satisfies WorkerMessage);
    const killer = setTimeout(() => {
      for (const worker of alive) if (!worker.isDead()) worker.kill('SIGKILL');
    }, timeoutMs + KILL_GRACE_MS);
    const exits = alive.map((worker) => (worker.isDead() ? null : new Promise((resolve) => worker.once('exit', resolve))));
    return Promise.all(exits).then(() => clearTimeout(killer));
  }

  private fork(slot: number): Worker {
    const worker = cluster.fork({ ...this.env, [WORKER_SLOT_ENV]: String(slot) });
    this.slots.set(worker.id, slot);
    return worker;
  }
}

/** stdio entries from fd 4 up to the highest inherited one: the primary's descriptor, or 'ignore' (/dev/null). */
function inheritedStdio(inherited: ReadonlyMap<number, number>): (number | 'ignore')[] {
  const entries: (number | 'ignore')[] = [];
  for (let fd = 4; fd <= Math.max(...inherited.keys()); fd++) entries.push(inherited.get(fd) ?? 'ignore');
  return entries;
}
