import Fastify from 'fastify';
import type { Logger } from 'pino';
import { parseHostPort } from '../config/address.js';

export interface HealthSource {
  /** True once every worker's DNS listeners are bound, false while starting or draining. */
  ready(): boolean;
}

const statusSchema = {
  type: 'object',
  properties: { status: { type: 'string', enum: ['ok', 'starting', 'draining'] } },
  required: ['status'],
  additionalProperties: false,
} as const;

/**
 * The HTTP side of a node: liveness (`/health`, the process answers) and readiness
 * (`/ready`, DNS is being served) for load balancers, systemd and Kubernetes probes.
 * Feed, API and dashboard are added to this same server by the SOC stage.
 */
export async function startHealthServer(listen: string, source: HealthSource, log: Logger): Promise<{ close(): Promise<void> }> {
  const app = Fastify({ loggerInstance: log.child({ component: 'http' }), disableRequestLogging: true });
  app.get('/health', { schema: { response: { 200: statusSchema } } }, async () => ({ status: 'ok' as const }));
  app.get('/ready', { schema: { response: { 200: statusSchema, 503: statusSchema } } }, async (_request, reply) => {
    if (source.ready()) return { status: 'ok' as const };
    return reply.code(503).send({ status: 'starting' as const });
  });
  const { host, port } = parseHostPort(listen, 8080);
  await app.listen({ host, port });
  return { close: () => app.close() };
}
