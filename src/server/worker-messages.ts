import type { DiscoveryReportMessage } from '../discovery/candidate-report.js';
import type { EventBatchMessage } from '../events/event-batcher.js';
import type { MetricsJson } from '../metrics/process-metrics.js';
import type { SessionChange } from '../radius/session-table.js';
import type { SharedPolicy } from '../scaleout/scale-out.js';

/** Environment variable that tells each worker where its configuration comes from. */
export const WORKER_SOURCE_ENV = 'WACHTPOST_WORKER_SOURCE';
/** Environment variable holding a worker's slot (1..workers), which names it in the metrics. */
export const WORKER_SLOT_ENV = 'WACHTPOST_WORKER_SLOT';

/** Everything the primary and a DNS worker say to each other over the IPC channel. */
export type WorkerMessage =
  | { type: 'ready' }
  /** The worker could not start; `reason` is one line for the operator. */
  | { type: 'failed'; reason: string }
  | { type: 'drain' }
  /** Reload the files; with `shared`, use that policy (from another instance) instead of the file's. */
  | { type: 'reload'; shared?: SharedPolicy }
  | { type: 'metrics?'; id: number }
  | { type: 'metrics'; id: number; values: MetricsJson }
  /** Every upstream started failing (`failing` says why) or one answers again (null). */
  | { type: 'upstream'; failing: string | null }
  /** A worker found no upstream answering (primary → the other workers: remember it for `forMs`). */
  | { type: 'upstream-failing'; forMs: number }
  /** Primary → workers: VPN sessions' address → device changes (null: none there now); `whole` replaces every mapping. */
  | { type: 'sessions'; changes: SessionChange[]; whole: boolean }
  | EventBatchMessage
  | DiscoveryReportMessage;
