import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SESSION_COOKIE, type Authenticator, type OriginPolicy, type RoleGuards } from './auth.js';
import { ErrorSchema } from './api-common.js';
import { refuseThrottled, type AuthThrottle } from './auth-throttle.js';
import { viaHttps } from './forwarded.js';

const principalSchema = {
  type: 'object',
  properties: { name: { type: 'string' }, role: { type: 'string', enum: ['analyst', 'admin'] } },
  required: ['name', 'role'],
  additionalProperties: false,
} as const;

/**
 * Browser sign-in: the dashboard POSTs a token once and gets an HttpOnly, SameSite=Strict,
 * signed session cookie, so the token never sits in a URL, in page script state or in a log.
 */
export interface SessionRouteOptions {
  readonly auth: Authenticator;
  readonly origins: OriginPolicy;
  readonly guards: RoleGuards;
  /** Whether a peer address is one of http.trusted_proxies (whose word on HTTPS counts). */
  readonly fromTrustedProxy: (address: string) => boolean;
  readonly throttle: AuthThrottle;
}

export async function sessionRoutes(app: FastifyInstance, { auth, origins, guards, fromTrustedProxy, throttle }: SessionRouteOptions): Promise<void> {
  /** Secure whenever the browser came over HTTPS (here, or through a trusted proxy): the cookie then never travels in clear. */
  const cookieOptions = (request: FastifyRequest, maxAge: number): CookieSerializeOptions => ({
    path: '/',
    httpOnly: true,
    sameSite: 'strict',
    secure: viaHttps(request, fromTrustedProxy),
    maxAge,
  });
  app.post(
    '/api/session',
    {
      schema: {
        tags: ['session'],
        summary: 'Sign in with a token; sets the session cookie',
        security: [],
        body: { type: 'object', properties: { token: { type: 'string', minLength: 1, maxLength: 512 } }, required: ['token'], additionalProperties: false },
        response: { 200: principalSchema, 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 429: ErrorSchema },
      },
    },
    async (request, reply) => {
      if (!origins.permits(request)) return reply.code(403).send({ error: 'forbidden_origin', message: 'cross-site request refused' });
      const wait = throttle.retryAfter(request.ip);
      if (wait > 0) return refuseThrottled(reply, wait);
      const found = auth.byToken((request.body as { token: string }).token);
      if (found === null) {
        throttle.failed(request.ip);
        return reply.code(401).send({ error: 'unauthenticated', message: 'unknown token' });
      }
      reply.setCookie(SESSION_COOKIE, auth.openSession(found.hash), cookieOptions(request, auth.sessionTtlSeconds));
      return found.principal;
    },
  );
  app.get(
    '/api/session',
    { schema: { tags: ['session'], summary: 'Who is signed in', response: { 200: principalSchema } }, onRequest: guards.analyst },
    async (request) => request.principal!,
  );
  app.delete(
    '/api/session',
    { schema: { tags: ['session'], summary: 'Sign out', response: { 204: { type: 'null' } } } },
    async (request, reply) => {
      auth.closeSession(request.cookies[SESSION_COOKIE]);
      reply.setCookie(SESSION_COOKIE, '', cookieOptions(request, 0));
      return reply.code(204).send();
    },
  );
}
