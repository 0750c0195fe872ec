import type { EventBatchMessage } from '../events/event-batcher.js';
import type { SharedPolicy } from '../scaleout/scale-out.js';
import type { MetricsJson } from './control-plane.js';

/** Environment variable that tells each worker where its configuration comes from. */
export const WORKER_SOURCE_ENV = 'WACHTPOST_WORKER_SOURCE';

/** Everything the primary and a DNS worker say to each other over the IPC channel. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'drain' }
  /** Reload the files; with `shared`, use that policy (from another instance) instead of the file's. */
  | { type: 'reload'; shared?: SharedPolicy }
  | { type: 'metrics?'; id: number }
  | { type: 'metrics'; id: number; values: MetricsJson }
  /** A worker found no upstream answering (primary → the other workers: remember it for `forMs`). */
  | { type: 'upstream-failing'; forMs: number }
  | EventBatchMessage;
