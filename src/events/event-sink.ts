import type { DetectionEvent } from './detection-event.js';

/**
 * Anything events are handed to on their way: the repeat folder, a worker's batcher (to the
 * primary's hub), the hub itself, the Redis stream publisher. `publish` never waits; a sink
 * that cannot keep up drops and counts.
 */
export interface EventSink {
  publish(event: DetectionEvent): void;
  /** Events it had to drop because its bounded queue was full. */
  readonly dropped: number;
}
