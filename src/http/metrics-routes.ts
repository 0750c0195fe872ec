import type { FastifyInstance } from 'fastify';
import type { HttpContext } from './http-server.js';

/** Prometheus text of every process of this node. */
export interface MetricsSource {
  readonly contentType: string;
  text(): Promise<string>;
}

/**
 * `/metrics` for Prometheus. Unauthenticated like most exporters, but it carries only
 * counts: no names, no addresses. Keep http.listen off the client network.
 */
export function metricsRoutes(app: FastifyInstance, ctx: HttpContext): void {
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('content-type', ctx.metrics.contentType);
    return ctx.metrics.text();
  });
}
