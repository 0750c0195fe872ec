import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { EventHub } from '../events/event-hub.js';
import { FeedClients } from '../feed/feed-clients.js';
import type { FeedCounters } from '../feed/feed-counters.js';
import { FeedError } from '../feed/feed-error.js';
import { CloseCode } from '../feed/feed-protocol.js';
import { parseFeedQuery, type FeedStart } from '../feed/feed-request.js';
import { DEFAULT_FEED_SETTINGS, type FeedSettings } from '../feed/feed-settings.js';
import type { AccessEndedListener, RoleGuards } from './auth.js';

export interface FeedRouteOptions {
  readonly hub: EventHub;
  readonly counters: FeedCounters;
  /** Limits that differ from the defaults (tests shorten the timings). */
  readonly settings?: Partial<FeedSettings>;
  /** Reasons the node runs degraded, told to clients in hello and status messages. */
  readonly degraded: () => readonly string[];
  readonly guards: RoleGuards;
  /** Announces ended access (sign-out, expiry, a removed token): the sockets opened with it close. */
  readonly auth: { onAccessEnded(listener: AccessEndedListener): () => void };
  readonly log: Logger;
}

/**
 * `GET /feed`: the live detection feed over WebSocket. Authentication, the Origin check and
 * the query string are all judged before the upgrade, so a refused client gets a plain
 * 401/403/400 and never a socket. A socket lasts only as long as the access it was opened
 * with: signing out, the session expiring or the token being removed closes it with 4001.
 */
export async function feedRoutes(app: FastifyInstance, options: FeedRouteOptions): Promise<void> {
  const clients = new FeedClients(options.hub, { ...DEFAULT_FEED_SETTINGS, ...options.settings }, options.counters, options.degraded, options.log.child({ component: 'feed' }));
  const starts = new WeakMap<FastifyRequest, FeedStart>();
  const unsubscribe = options.auth.onAccessEnded((key, reason) => clients.closeOwnedBy(key, CloseCode.ACCESS_ENDED, reason));
  // The server's pre-close hook has closed every socket with 1001 (http-server.ts) by now.
  app.addHook('onClose', async () => unsubscribe());
  app.get(
    '/feed',
    {
      websocket: true,
      onRequest: options.guards.analyst,
      preValidation: async (request, reply) => {
        try {
          starts.set(request, parseFeedQuery(request.query as Record<string, unknown>));
        } catch (error) {
          if (!(error instanceof FeedError)) throw error;
          await reply.code(400).send({ error: error.code, message: error.message });
          return reply;
        }
      },
    },
    (socket, request) => clients.admit(socket, request.socket, starts.get(request)!, { name: request.principal!.name, ...request.access! }),
  );
}
