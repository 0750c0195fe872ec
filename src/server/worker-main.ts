import type { LoadOptions } from '../config/load.js';
import { loadConfig } from '../config/load.js';
import { WORKER_SOURCE_ENV, type WorkerMessage } from './worker-messages.js';
import { createLogger } from '../logging/log.js';
import { serveWorker } from './worker.js';

/** Entry point of a cluster worker: it loads the configuration the primary already validated. */
const source = JSON.parse(process.env[WORKER_SOURCE_ENV] ?? 'null') as LoadOptions | null;
if (source === null) {
  process.stderr.write(`worker started without ${WORKER_SOURCE_ENV}\n`);
  process.exit(2);
}
const config = loadConfig(source);
const log = createLogger(config.log.level);
serveWorker(config, log, source, () => process.send?.({ type: 'ready' } satisfies WorkerMessage)).catch((error: unknown) => {
  log.fatal({ err: error }, 'worker could not start');
  process.exit(1);
});
