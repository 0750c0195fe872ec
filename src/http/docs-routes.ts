import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DASHBOARD_HEADERS } from '../dashboard/dashboard-routes.js';

/**
 * The strictest policy under which Swagger UI renders and tries out requests with no
 * violation in Chromium (test/http/docs.test.ts): scripts and style sheets from
 * /docs/static, icons as data: images, requests to this server. No inline script is needed;
 * the one inline <style> element the bundle inserts is allowed by its hash, not by
 * 'unsafe-inline', so a Swagger UI upgrade that changes it fails that test until the hash
 * here is updated (Chromium's report names the new one).
 */
export const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const DOCS_HEADERS: Readonly<Record<string, string>> = { ...DASHBOARD_HEADERS, 'content-security-policy': DOCS_CSP };

async function securityHeaders(_request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  reply.headers(DOCS_HEADERS);
  return payload;
}

/** `/docs`: Swagger UI over the OpenAPI description, locked down like the dashboard. */
export async function docsRoutes(app: FastifyInstance): Promise<void> {
  // In this plugin's own context, so the hook covers Swagger UI's static files too.
  app.addHook('onSend', securityHeaders);
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
