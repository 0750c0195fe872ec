import type { Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { loadConfig, type LoadOptions } from '../config/load.js';
import type { SharedPolicy } from '../scaleout/scale-out.js';
import type { WorkerMessage } from './worker-messages.js';

/**
 * The policy of a deployment of several instances (with Redis): a policy another instance
 * shared is validated here and handed to every worker, and to each replacement worker as it
 * starts; a change of this instance's own files replaces it and is shared in turn. Each
 * worker still loads and validates for itself.
 */
export class PolicySharing {
  /** The policy another instance shared last, while no local change replaced it. */
  private shared: SharedPolicy | undefined;

  constructor(
    private readonly source: LoadOptions,
    private readonly broadcast: (message: WorkerMessage) => void,
    private readonly share: (config: ReturnType<typeof loadConfig>) => void,
    private readonly log: Logger,
  ) {}

  /** Another instance shared `next`: swap it in everywhere, or keep the running one and say why. */
  adopt(next: SharedPolicy): void {
    try {
      loadConfig({ ...this.source, shared: next });
    } catch (error) {
      this.log.error({ from: next.from, err: error }, 'policy shared by another instance refused; the running one stays');
      return;
    }
    this.shared = next;
    this.broadcast({ type: 'reload', shared: next });
    this.log.info({ from: next.from }, 'policy shared by another instance applied');
  }

  /** A replacement worker starts from the file: give it the deployment's policy. */
  workerReady(worker: Worker): void {
    if (this.shared !== undefined) worker.send({ type: 'reload', shared: this.shared } satisfies WorkerMessage);
  }

  /** This instance's files changed (or SIGHUP) and loaded as `config`: they win locally and are offered to the others. */
  filesChanged(config: ReturnType<typeof loadConfig>): void {
    this.shared = undefined;
    this.share(config);
  }
}
