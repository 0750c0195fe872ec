import type { DetectionEvent } from './detection-event.js';

/** Devices tracked at once; beyond this the oldest windows are forgotten first. */
const MAX_TRACKED = 200_000;

/**
 * Spots a device that keeps asking for a blocked app: the app is still installed and
 * trying. The first block starts a window; the first block after each full window yields
 * one `residual` event for that device and app, so an analyst sees "still active" without
 * a flood.
 */
export class ResidualTracker {
  /** "client app" → start of the current window. */
  private readonly windows = new Map<string, number>();

  constructor(private readonly windowMs: number) {}

  observe(event: DetectionEvent): DetectionEvent | null {
    if (event.kind !== 'detection' || event.action !== 'block' || event.app === null) return null;
    const key = `${event.device ?? event.client} ${event.app.id}`;
    const start = this.windows.get(key);
    if (start !== undefined && event.ts - start < this.windowMs) return null;
    // Re-insert so Map order stays oldest-first for the eviction below.
    this.windows.delete(key);
    this.windows.set(key, event.ts);
    if (this.windows.size > MAX_TRACKED) this.windows.delete(this.windows.keys().next().value!);
    return start === undefined ? null : { ...event, id: 0, kind: 'residual', latency_ms: 0, count: 1 };
  }
}
