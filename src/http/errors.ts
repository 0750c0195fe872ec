import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Stable codes for the client errors Fastify itself raises (parsers, limits). */
const CLIENT_ERROR_CODES: Readonly<Record<number, string>> = {
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

/**
 * Every error of the HTTP server as `{ error, message }` with a stable snake_case code,
 * Fastify's own included (schema validation, bad JSON, body limit, media type); server
 * faults are logged and answered without detail.
 */
export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error.validation !== undefined) return reply.code(400).send({ error: 'invalid_request', message: error.message });
  const status = error.statusCode ?? 500;
  if (status < 500) return reply.code(status).send({ error: CLIENT_ERROR_CODES[status] ?? 'bad_request', message: error.message });
  request.log.error({ err: error, route: request.routeOptions.url }, 'request failed');
  return reply.code(500).send({ error: 'internal_error', message: 'internal error' });
}

/**
 * Installs the error format on the whole server: the error handler, 404 for unknown paths,
 * and 405 (with `Allow`) for a known path asked with a method it does not serve. Call before
 * any route is registered, so every route is seen.
 */
export function uniformErrors(app: FastifyInstance): void {
  const routes: { pattern: RegExp; methods: string[] }[] = [];
  app.addHook('onRoute', (route) => {
    const pattern = new RegExp(`^${route.url.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:[^/]+/g, '[^/]+').replace(/\*/g, '.*')}$`);
    routes.push({ pattern, methods: ([] as string[]).concat(route.method) });
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?', 1)[0]!;
    const allowed = [...new Set(routes.filter((route) => route.pattern.test(path)).flatMap((route) => route.methods))];
    if (allowed.length > 0) {
      return reply.code(405).header('allow', allowed.join(', ')).send({ error: 'method_not_allowed', message: `${request.method} is not served at ${path}; use ${allowed.join(', ')}` });
    }
    return reply.code(404).send({ error: 'not_found', message: `nothing is served at ${path}` });
  });
}
