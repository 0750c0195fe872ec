import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Config } from '../config/schema.js';

export type Role = 'analyst' | 'admin';

/** Who is asking: the token's holder, never the token. */
export interface Principal {
  readonly name: string;
  readonly role: Role;
}

/** The environment variable that adds an admin token (containers get secrets this way). */
export const ADMIN_TOKEN_ENV = 'WACHTPOST_ADMIN_TOKEN';
export const SESSION_COOKIE = 'wachtpost_session';
const MAX_SESSIONS = 10_000;
export const MIN_TOKEN_LENGTH = 16;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A new random token and the hash that goes into the configuration. */
export function newToken(): { token: string; sha256: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, sha256: sha256Hex(token) };
}

/**
 * Bearer tokens (configured as SHA-256 hashes, so the file holds no secret) and browser
 * sessions. A browser signs in once by POSTing its token and then carries an HttpOnly
 * cookie, so the token never appears in a URL, a page or a log.
 */
export class Authenticator {
  private readonly tokens = new Map<string, Principal>();
  private readonly sessions = new Map<string, { principal: Principal; expires: number }>();

  constructor(
    settings: Config['api'],
    env: NodeJS.ProcessEnv = process.env,
    private readonly now: () => number = Date.now,
  ) {
    this.sessionTtlMs = settings.session_ttl_s * 1000;
    for (const token of settings.tokens) this.tokens.set(token.sha256, { name: token.name, role: token.role });
    const fromEnv = env[ADMIN_TOKEN_ENV];
    if (fromEnv !== undefined && fromEnv !== '') {
      if (fromEnv.length < MIN_TOKEN_LENGTH) throw new Error(`${ADMIN_TOKEN_ENV} must be at least ${MIN_TOKEN_LENGTH} characters`);
      this.tokens.set(sha256Hex(fromEnv), { name: 'env-admin', role: 'admin' });
    }
  }

  private readonly sessionTtlMs: number;

  get tokenCount(): number {
    return this.tokens.size;
  }

  /** The holder of `token`; hashing first makes the look-up independent of the secret's bytes. */
  byToken(token: string): Principal | null {
    return this.tokens.get(sha256Hex(token)) ?? null;
  }

  /** Opens a session for a browser that proved it holds a token; returns the cookie value. */
  openSession(principal: Principal): string {
    if (this.sessions.size >= MAX_SESSIONS) this.dropExpired();
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { principal, expires: this.now() + this.sessionTtlMs });
    return id;
  }

  closeSession(id: string): void {
    this.sessions.delete(id);
  }

  bySession(id: string): Principal | null {
    const session = this.sessions.get(id);
    if (session === undefined) return null;
    if (session.expires <= this.now()) {
      this.sessions.delete(id);
      return null;
    }
    return session.principal;
  }

  get sessionTtlSeconds(): number {
    return this.sessionTtlMs / 1000;
  }

  /** The principal behind a request: `Authorization: Bearer …` or the session cookie. */
  authenticate(request: FastifyRequest): { principal: Principal; viaCookie: boolean } | null {
    const header = request.headers.authorization;
    if (header !== undefined && header.startsWith('Bearer ')) {
      const principal = this.byToken(header.slice('Bearer '.length).trim());
      return principal === null ? null : { principal, viaCookie: false };
    }
    const session = sessionCookie(request.headers.cookie);
    if (session === null) return null;
    const principal = this.bySession(session);
    return principal === null ? null : { principal, viaCookie: true };
  }

  private dropExpired(): void {
    const now = this.now();
    for (const [id, session] of this.sessions) if (session.expires <= now) this.sessions.delete(id);
  }
}

/** The session id from a Cookie header, or null. */
export function sessionCookie(header: string | undefined): string | null {
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return null;
}

/**
 * Cross-site requests are refused when they could ride on a browser's cookie or open the
 * feed from a foreign page: a present Origin must be this server's own or a configured one.
 */
export class OriginPolicy {
  private readonly allowed: ReadonlySet<string>;

  constructor(allowedOrigins: readonly string[]) {
    this.allowed = new Set(allowedOrigins.map((origin) => origin.replace(/\/$/, '').toLowerCase()));
  }

  permits(request: FastifyRequest): boolean {
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    const normalised = origin.toLowerCase();
    if (this.allowed.has(normalised)) return true;
    const host = request.headers.host;
    return host !== undefined && (normalised === `http://${host.toLowerCase()}` || normalised === `https://${host.toLowerCase()}`);
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** onRequest hooks admitting each role: what route plugins get instead of the authenticator. */
export interface RoleGuards {
  readonly analyst: onRequestAsyncHookHandler;
  readonly admin: onRequestAsyncHookHandler;
}

export function roleGuards(auth: Authenticator, origins: OriginPolicy): RoleGuards {
  return { analyst: requireRole(auth, origins, 'analyst'), admin: requireRole(auth, origins, 'admin') };
}

/**
 * An onRequest hook that lets through only `role` (admin includes analyst) and answers
 * 401/403 otherwise, before any handler or WebSocket upgrade runs.
 */
function requireRole(auth: Authenticator, origins: OriginPolicy, role: Role): onRequestAsyncHookHandler {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!origins.permits(request)) {
      await reply.code(403).send({ error: 'forbidden_origin', message: 'cross-site request refused' });
      return reply;
    }
    const found = auth.authenticate(request);
    if (found === null) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthenticated', message: 'a valid token or session is required' });
      return reply;
    }
    if (role === 'admin' && found.principal.role !== 'admin') {
      await reply.code(403).send({ error: 'forbidden', message: 'this needs the admin role' });
      return reply;
    }
    request.principal = found.principal;
  };
}
