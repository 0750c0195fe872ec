import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { parseHostPort } from '../config/address.js';
import type { Config } from '../config/schema.js';
import type { EventHub } from '../events/event-hub.js';
import { dashboardRoutes } from '../feed/dashboard-routes.js';
import { feedRoutes } from '../feed/feed-routes.js';
import type { History } from '../history/history.js';
import { apiRoutes } from './api-routes.js';
import { Authenticator, OriginPolicy } from './auth.js';
import { healthRoutes, type HealthSource } from './health-routes.js';
import { metricsRoutes, type MetricsSource } from './metrics-routes.js';
import { sessionRoutes } from './session-routes.js';

/** Everything the HTTP side of a node serves from; one per process that owns the feed. */
export interface HttpContext {
  readonly config: Config;
  readonly log: Logger;
  readonly health: HealthSource;
  readonly hub: EventHub;
  /** Null when history is switched off (history.path empty). */
  readonly history: History | null;
  readonly auth: Authenticator;
  readonly origins: OriginPolicy;
  readonly metrics: MetricsSource;
}

const WS_MAX_PAYLOAD = 64 * 1024;

/**
 * The node's HTTP server: health and readiness, sign-in, the live feed (WebSocket), the
 * REST API with its OpenAPI description at /docs, Prometheus metrics and the dashboard.
 * Built without listening so tests can `inject`.
 */
export async function buildHttpApp(ctx: HttpContext): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.log.child({ component: 'http' }) as FastifyBaseLogger,
    // Per-request lines would log client addresses and URLs of every poll; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
  });
  app.decorateRequest('principal', null);
  await app.register(swagger, {
    openapi: {
      info: { title: 'Wachtpost API', version: '1', description: 'Detections, history, statistics and device inventories of a Wachtpost node' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(websocket, {
    options: { maxPayload: WS_MAX_PAYLOAD },
    // A client's oversized message or abrupt disconnect is its problem, not an error of ours.
    errorHandler: (error, socket, request) => {
      request.log.warn({ err: error.message }, 'websocket closed on error');
      socket.terminate();
    },
  });
  healthRoutes(app, ctx.health);
  sessionRoutes(app, ctx);
  metricsRoutes(app, ctx);
  apiRoutes(app, ctx);
  feedRoutes(app, ctx);
  dashboardRoutes(app, ctx);
  return app;
}

export interface RunningHttp {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHttpServer(ctx: HttpContext): Promise<RunningHttp> {
  const app = await buildHttpApp(ctx);
  const { host, port } = parseHostPort(ctx.config.http.listen, 8080);
  await app.listen({ host, port });
  const address = app.server.address();
  return { port: typeof address === 'object' && address !== null ? address.port : port, close: () => app.close() };
}
