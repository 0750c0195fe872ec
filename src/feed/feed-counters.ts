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
