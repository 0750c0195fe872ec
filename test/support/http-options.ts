import pino from 'pino';
import type { Config } from '../../src/config/schema.js';
import type { EventHub } from '../../src/events/event-hub.js';
import { FeedCounters } from '../../src/feed/feed-counters.js';
import type { History } from '../../src/history/history.js';
import { Authenticator, OriginPolicy } from '../../src/http/auth.js';
import type { HttpOptions } from '../../src/http/http-server.js';

/** What the HTTP app needs, for tests of its routes: the configured tokens, a ready node, no metrics. */
export function httpOptions(api: Config['api'], history: History | null, hub: EventHub, extra: Partial<HttpOptions> = {}): HttpOptions {
  return {
    log: pino({ level: 'silent' }),
    health: { ready: () => true, degraded: () => [] },
    hub,
    history,
    auth: new Authenticator(api, { env: {} }),
    origins: new OriginPolicy(api.allowed_origins),
    metrics: { contentType: 'text/plain', text: async () => '' },
    feed: { counters: new FeedCounters() },
    ...extra,
  };
}
