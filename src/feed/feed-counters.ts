import type { EventHub } from '../events/event-hub.js';

/** Live-feed counters the metrics layer reads; `clients` is a gauge, the rest only grow. */
export class FeedCounters {
  clients = 0;
  /** Event messages sent. */
  sent = 0;
  /** Gap messages sent, and the events they reported lost. */
  gaps = 0;
  missed = 0;
  /** Clients closed with 4008 because they could not keep up. */
  slowCloses = 0;
  /** Connections closed with 1013 because the client limit was reached. */
  refused = 0;
}

// Keyed by the hub the feed reads: one feed per hub, so the metrics layer and the feed find
// the same counters without being wired together, and every test server gets its own.
const byHub = new WeakMap<EventHub, FeedCounters>();

export function feedCounters(hub: EventHub): FeedCounters {
  let counters = byHub.get(hub);
  if (counters === undefined) {
    counters = new FeedCounters();
    byHub.set(hub, counters);
  }
  return counters;
}
