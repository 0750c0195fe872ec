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
const log = createLogger(config.log.level, config.log.format);
serveWorker(config, log, source, () => process.send?.({ type: 'ready' } satisfies WorkerMessage)).catch((error: unknown) => {
  // The primary stops the start and says why, in one line; the stack only helps a developer.
  log.debug({ err: error }, 'worker could not start');
  const reason = error instanceof Error ? error.message : String(error);
  if (process.send === undefined) process.exit(1);
  process.send({ type: 'failed', reason } satisfies WorkerMessage, undefined, undefined, () => process.exit(1));
});
