import type { FastifyInstance } from 'fastify';

/** Prometheus text of every process of this node. */
export interface MetricsSource {
  readonly contentType: string;
  text(): Promise<string>;
}

/**
 * `/metrics` for Prometheus. Unauthenticated like most exporters, but it carries only
 * counts: no names, no addresses. Keep http.listen off the client network.
 */
export async function metricsRoutes(app: FastifyInstance, { metrics }: { metrics: MetricsSource }): Promise<void> {
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('content-type', metrics.contentType);
    return metrics.text();
  });
}
