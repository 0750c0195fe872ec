import type { FastifyInstance } from 'fastify';

export interface HealthSource {
  /** True once every worker's DNS listeners are bound, false while starting or draining. */
  ready(): boolean;
  /** Reasons the node runs degraded (e.g. the history cannot be written); empty when healthy. */
  degraded(): readonly string[];
  /** Of those, the reasons DNS itself is impaired (every upstream failing). */
  dnsDegraded?(): readonly string[];
}

const statusSchema = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'starting', 'draining', 'degraded'] },
    reasons: { type: 'array', items: { type: 'string' } },
  },
  required: ['status'],
  additionalProperties: false,
} as const;

/**
 * Liveness (`/health`: the process answers) and readiness (`/ready`: DNS is being served),
 * unauthenticated, for load balancers, systemd and Kubernetes probes. A degraded node is
 * still ready: with the SOC side impaired DNS works, and with every upstream failing the
 * cache (and stale answers) still does, and taking the node out of service would help no
 * one whose upstreams are the same; /ready then says `degraded` with the reason.
 */
export async function healthRoutes(app: FastifyInstance, { health }: { health: HealthSource }): Promise<void> {
  app.get('/health', { schema: { hide: true, response: { 200: statusSchema } } }, async () => {
    const reasons = health.degraded();
    return reasons.length === 0 ? { status: 'ok' as const } : { status: 'degraded' as const, reasons: [...reasons] };
  });
  app.get('/ready', { schema: { hide: true, response: { 200: statusSchema, 503: statusSchema } } }, async (_request, reply) => {
    if (health.ready()) {
      const reasons = health.dnsDegraded?.() ?? [];
      return reasons.length === 0 ? { status: 'ok' as const } : { status: 'degraded' as const, reasons: [...reasons] };
    }
    return reply.code(503).send({ status: 'starting' as const });
  });
}
