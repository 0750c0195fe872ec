import type { Config } from '../config/schema.js';
import { WORKER_CONFIG_ENV, type WorkerMessage } from './cluster.js';
import { createLogger } from './log.js';
import { serveInProcess } from './serve.js';

/** Entry point of a cluster worker: the primary already validated the configuration. */
const config = JSON.parse(process.env[WORKER_CONFIG_ENV] ?? 'null') as Config | null;
if (config === null) {
  process.stderr.write(`worker started without ${WORKER_CONFIG_ENV}\n`);
  process.exit(2);
}
const log = createLogger(config.log.level);
serveInProcess(config, log, { http: false, onReady: () => process.send?.({ type: 'ready' } satisfies WorkerMessage) }).catch((error: unknown) => {
  log.fatal({ err: error }, 'worker could not start');
  process.exit(1);
});
