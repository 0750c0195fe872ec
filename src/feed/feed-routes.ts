import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requireRole } from '../http/auth.js';
import type { HttpContext } from '../http/http-server.js';
import { FeedClients } from './feed-clients.js';
import { feedCounters } from './feed-counters.js';
import { FeedError } from './feed-error.js';
import { parseFeedQuery, type FeedStart } from './feed-request.js';
import { DEFAULT_FEED_SETTINGS, type FeedSettings } from './feed-settings.js';

export { FeedCounters, feedCounters } from './feed-counters.js';

/** The HTTP context, optionally with feed limits that differ from the defaults. */
export interface FeedContext extends HttpContext {
  readonly feed?: Partial<FeedSettings>;
}

/**
 * `GET /feed`: the live detection feed over WebSocket. Authentication, the Origin check and
 * the query string are all judged before the upgrade, so a refused client gets a plain
 * 401/403/400 and never a socket.
 */
export function feedRoutes(app: FastifyInstance, ctx: FeedContext): void {
  const clients = new FeedClients(
    ctx.hub,
    { ...DEFAULT_FEED_SETTINGS, ...ctx.feed },
    feedCounters(ctx.hub),
    () => ctx.health.degraded(),
    ctx.log.child({ component: 'feed' }),
  );
  const starts = new WeakMap<FastifyRequest, FeedStart>();
  app.addHook('onClose', async () => clients.closeAll());
  app.get(
    '/feed',
    {
      websocket: true,
      onRequest: requireRole(ctx.auth, ctx.origins, 'analyst'),
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
    (socket, request) => clients.admit(socket, request.socket, starts.get(request)!, request.principal!),
  );
}
