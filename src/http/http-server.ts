import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ClientAcl } from '../access/client-acl.js';
import { parseHostPort } from '../config/address.js';
import { dashboardRoutes } from '../dashboard/dashboard-routes.js';
import type { EventHub } from '../events/event-hub.js';
import type { FeedCounters } from '../feed/feed-counters.js';
import type { FeedSettings } from '../feed/feed-settings.js';
import type { History } from '../history/history.js';
import { apiRoutes } from './api-routes.js';
import { AuthThrottle } from './auth-throttle.js';
import { discoveryRoutes, type DiscoveryApi } from './discovery-routes.js';
import { roleGuards, type Authenticator, type OriginPolicy } from './auth.js';
import { CloseCode } from '../feed/feed-protocol.js';
import { docsRoutes } from './docs-routes.js';
import { uniformErrors } from './errors.js';
import { feedRoutes } from './feed-routes.js';
import { healthRoutes, type HealthSource } from './health-routes.js';
import { metricsRoutes, type MetricsSource } from './metrics-routes.js';
import { sessionRoutes } from './session-routes.js';

/** What the HTTP side of a node serves from; each route plugin is handed only its part. */
export interface HttpOptions {
  readonly log: Logger;
  readonly health: HealthSource;
  readonly hub: EventHub;
  /** Null when history is switched off (history.path empty). */
  readonly history: History | null;
  readonly auth: Authenticator;
  readonly origins: OriginPolicy;
  /** http.trusted_proxies: peers whose forwarding headers are believed. */
  readonly trustedProxies?: readonly string[];
  /** Per-source throttling of failed authentication (made here when not given). */
  readonly throttle?: AuthThrottle;
  readonly metrics: MetricsSource;
  readonly feed: { readonly counters: FeedCounters; readonly settings?: Partial<FeedSettings> };
  /** The discovery queue; null (or absent) when this node keeps none. */
  readonly discovery?: DiscoveryApi | null;
  /** The organisation each policy group belongs to, as configured now (for the exposure summary). */
  readonly organisations?: () => ReadonlyMap<string, string>;
  /** Where the dashboard's files are (default: the installed ones). */
  readonly dashboardDir?: string;
}

const WS_MAX_PAYLOAD = 64 * 1024;
/** On close, how long open connections (feed clients in their close handshake) may linger before they are cut. */
const FORCE_CLOSE_MS = 2000;

/**
 * The node's HTTP server: health and readiness, sign-in, the live feed (WebSocket), the
 * REST API with its OpenAPI description at /docs, the discovery queue, Prometheus metrics
 * and the dashboard.
 * Built without listening so tests can `inject`.
 */
export async function buildHttpApp(options: HttpOptions): Promise<FastifyInstance> {
  const { log, auth, origins, history } = options;
  const proxies = new ClientAcl(options.trustedProxies ?? []);
  const fromTrustedProxy = (address: string): boolean => proxies.allows(address);
  const app = Fastify({
    // Client address (X-Forwarded-For) and protocol (X-Forwarded-Proto) from trusted proxies only.
    trustProxy: fromTrustedProxy,
    loggerInstance: log.child({ component: 'http' }) as FastifyBaseLogger,
    // Per-request lines would log client addresses and URLs of every poll; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
  });
  uniformErrors(app);
  // Every body this server takes is JSON: anything else is 415, not a text to validate.
  app.removeContentTypeParser('text/plain');
  app.decorateRequest('principal', null);
  app.decorateRequest('access', null);
  // Parses Cookie headers and writes Set-Cookie; the session cookie's signing is sessions.ts's.
  await app.register(cookie);
  await app.register(swagger, {
    openapi: {
      info: { title: 'Wachtpost API', version: '1', description: 'Detections, history, statistics and device inventories of a Wachtpost node' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(docsRoutes);
  await app.register(websocket, {
    options: { maxPayload: WS_MAX_PAYLOAD },
    // The plugin's own pre-close hook closes sockets without a code (clients see 1005); feed
    // clients are promised 1001, which tells them to reconnect elsewhere or later.
    preClose(done) {
      for (const client of this.websocketServer.clients) client.close(CloseCode.GOING_AWAY, 'server shutting down');
      this.websocketServer.close();
      done();
    },
    // A client's oversized message or abrupt disconnect is its problem, not an error of ours.
    errorHandler: (error, socket, request) => {
      request.log.warn({ err: error.message }, 'websocket closed on error');
      socket.terminate();
    },
  });
  const throttle = options.throttle ?? new AuthThrottle(log.child({ component: 'http' }));
  const guards = roleGuards(auth, origins, throttle);
  await app.register(healthRoutes, { health: options.health });
  await app.register(sessionRoutes, { auth, origins, guards, fromTrustedProxy, throttle });
  await app.register(metricsRoutes, { metrics: options.metrics });
  await app.register(apiRoutes, { history, guards, organisations: options.organisations ?? (() => new Map()) });
  await app.register(discoveryRoutes, { discovery: options.discovery ?? null, guards });
  await app.register(feedRoutes, { hub: options.hub, ...options.feed, degraded: options.health.degraded, guards, auth, log });
  await app.register(dashboardRoutes, { log, ...(options.dashboardDir === undefined ? {} : { dir: options.dashboardDir }) });
  return app;
}

export interface RunningHttp {
  readonly port: number;
  close(): Promise<void>;
}

/** Builds the app and listens on `listen` (http.listen). */
export async function startHttpServer(listen: string, options: HttpOptions): Promise<RunningHttp> {
  const app = await buildHttpApp(options);
  const { host, port } = parseHostPort(listen, 8080);
  await app.listen({ host, port });
  const address = app.server.address();
  return { port: typeof address === 'object' && address !== null ? address.port : port, close: () => closeBounded(app) };
}

/** Closes the app; connections still open after FORCE_CLOSE_MS (a client that ignores the close frame) are cut. */
async function closeBounded(app: FastifyInstance): Promise<void> {
  const closing = app.close();
  const force = setTimeout(() => {
    for (const client of app.websocketServer.clients) client.terminate();
    app.server.closeAllConnections();
  }, FORCE_CLOSE_MS);
  try {
    await closing;
  } finally {
    clearTimeout(force);
  }
}
