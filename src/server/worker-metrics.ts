import type { Worker } from 'node:cluster';
import type { MetricsJson } from '../metrics/process-metrics.js';
import type { WorkerMessage } from './worker-messages.js';

/** A worker's answer to a metrics request must come within this, or the scrape goes on without it. */
const METRICS_TIMEOUT_MS = 1000;

/** Asks workers for their registries at scrape time and matches their answers to the requests. */
export class WorkerMetrics {
  private readonly pending = new Map<number, (values: MetricsJson) => void>();
  private nextId = 0;

  /** Each worker's metrics; a worker that does not answer in time contributes none. */
  collect(workers: readonly Worker[]): Promise<MetricsJson[]> {
    return Promise.all(workers.map((worker) => this.request(worker)));
  }

  /** Takes a worker's `metrics` message. */
  answered(message: Extract<WorkerMessage, { type: 'metrics' }>): void {
    this.pending.get(message.id)?.(message.values);
  }

  private request(worker: Worker): Promise<MetricsJson> {
    return new Promise((resolve) => {
      const id = this.nextId++;
      const settle = (values: MetricsJson): void => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(values);
      };
      const timer = setTimeout(() => settle([]), METRICS_TIMEOUT_MS);
      this.pending.set(id, settle);
      worker.send({ type: 'metrics?', id } satisfies WorkerMessage);
    });
  }
}
