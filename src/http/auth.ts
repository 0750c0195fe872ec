import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Config } from '../config/schema.js';
import { refuseThrottled, type AuthThrottle } from './auth-throttle.js';
import { SessionCookies, type EndReason } from './sessions.js';

export type Role = 'analyst' | 'admin';

/** Who is asking: the token's holder, never the token. */
export interface Principal {
  readonly name: string;
  readonly role: Role;
}

/** The environment variable that adds an admin token (containers get secrets this way). */
export const ADMIN_TOKEN_ENV = 'WACHTPOST_ADMIN_TOKEN';
export const SESSION_COOKIE = 'wachtpost_session';
export const MIN_TOKEN_LENGTH = 16;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A new random token and the hash that goes into the configuration. */
export function newToken(): { token: string; sha256: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, sha256: sha256Hex(token) };
}

/** A request's proven identity. */
export interface Authenticated {
  readonly principal: Principal;
  /**
   * What this access hangs on, as announced when it ends: `token:SHA256`, and for a browser
   * also `session:ID`. A feed socket keeps them, so sign-out, expiry or a removed token close it.
   */
  readonly keys: readonly string[];
  /** Epoch milliseconds when this access ends by itself: a session's expiry, Infinity for a token. */
  readonly expires: number;
}

export interface AuthenticatorOptions {
  /** Where WACHTPOST_ADMIN_TOKEN is read (tests pass their own). */
  readonly env?: NodeJS.ProcessEnv;
  readonly now?: () => number;
  /** Keys that sign session cookies (loadSessionKeys); default: one random key for this process. */
  readonly sessionKeys?: readonly Buffer[];
}

/** Told when access through `key` ended (see Authenticated.keys) and why. */
export type AccessEndedListener = (key: string, reason: EndReason) => void;

/**
 * Bearer tokens (configured as SHA-256 hashes, so the file holds no secret) and browser
 * sessions. A browser signs in once by POSTing its token and then carries an HttpOnly,
 * signed cookie (sessions.ts), so the token never appears in a URL, a page or a log, and the
 * session outlives a restart and holds on every instance with the same keys. The configured
 * tokens can be replaced at run time (SIGHUP, file change); a removed token stops working
 * at once, with its sessions.
 */
export class Authenticator {
  private tokens: Map<string, Principal>;
  private readonly envToken: string | null;
  private readonly sessions: SessionCookies;
  private readonly listeners = new Set<AccessEndedListener>();

  constructor(settings: Config['api'], options: AuthenticatorOptions = {}) {
    this.sessions = new SessionCookies(options.sessionKeys ?? [randomBytes(32)], settings.session_ttl_s * 1000, options.now);
    const fromEnv = (options.env ?? process.env)[ADMIN_TOKEN_ENV] ?? '';
    if (fromEnv !== '' && fromEnv.length < MIN_TOKEN_LENGTH) throw new Error(`${ADMIN_TOKEN_ENV} must be at least ${MIN_TOKEN_LENGTH} characters`);
    this.envToken = fromEnv === '' ? null : sha256Hex(fromEnv);
    this.tokens = this.tokenMap(settings);
  }

  get tokenCount(): number {
    return this.tokens.size;
  }

  /**
   * Takes the tokens of a reloaded configuration (the environment's admin token stays).
   * Sessions and feed sockets of removed tokens end at once; a changed name or role applies
   * to the next request. Returns how many tokens were removed.
   */
  replaceTokens(settings: Config['api']): number {
    const previous = this.tokens;
    this.tokens = this.tokenMap(settings);
    let removed = 0;
    for (const hash of previous.keys()) {
      if (this.tokens.has(hash)) continue;
      removed++;
      this.ended(`token:${hash}`, 'token revoked');
    }
    return removed;
  }

  /**
   * Takes reloaded session keys. A session signed only with a removed key is refused from its
   * next request on (its open feed sockets close at their expiry or with their token).
   */
  replaceSessionKeys(keys: readonly Buffer[]): void {
    this.sessions.replaceKeys(keys);
  }

  /** Registers a listener for ended access; returns the function that removes it. */
  onAccessEnded(listener: AccessEndedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The holder of `token` and its hash; hashing first makes the look-up independent of the secret's bytes. */
  byToken(token: string): { principal: Principal; hash: string } | null {
    const hash = sha256Hex(token);
    const principal = this.tokens.get(hash);
    return principal === undefined ? null : { principal, hash };
  }

  /** Opens a session for a browser that proved it holds the token with this hash; returns the cookie value. */
  openSession(tokenHash: string): string {
    return this.sessions.issue(tokenHash);
  }

  /** Signs out the session of this cookie value (if it is one): refused here from now on, its feed sockets closed. */
  closeSession(cookie: string | undefined): void {
    const claim = this.sessions.read(cookie);
    if (claim === null) return;
    this.sessions.signOut(claim);
    this.ended(`session:${claim.id}`, 'signed out');
  }

  get sessionTtlSeconds(): number {
    return this.sessions.ttlSeconds;
  }

  /** The principal behind a request: `Authorization: Bearer …` or the session cookie. */
  authenticate(request: FastifyRequest): Authenticated | null {
    const header = request.headers.authorization;
    if (header !== undefined && header.startsWith('Bearer ')) {
      const found = this.byToken(header.slice('Bearer '.length).trim());
      return found === null ? null : { principal: found.principal, keys: [`token:${found.hash}`], expires: Infinity };
    }
    const claim = this.sessions.read(request.cookies[SESSION_COOKIE]);
    const principal = claim === null ? undefined : this.tokens.get(claim.token);
    if (principal === undefined) return null;
    return { principal, keys: [`token:${claim!.token}`, `session:${claim!.id}`], expires: claim!.expires };
  }

  private tokenMap(settings: Config['api']): Map<string, Principal> {
    const tokens = new Map<string, Principal>();
    for (const token of settings.tokens) tokens.set(token.sha256, { name: token.name, role: token.role });
    if (this.envToken !== null) tokens.set(this.envToken, { name: 'env-admin', role: 'admin' });
    return tokens;
  }

  private ended(key: string, reason: EndReason): void {
    for (const listener of this.listeners) listener(key, reason);
  }
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
    /** What the request's access hangs on and when it ends by itself; null until authenticated. */
    access: Pick<Authenticated, 'keys' | 'expires'> | null;
  }
}

/** onRequest hooks admitting each role: what route plugins get instead of the authenticator. */
export interface RoleGuards {
  readonly analyst: onRequestAsyncHookHandler;
  readonly admin: onRequestAsyncHookHandler;
}

export function roleGuards(auth: Authenticator, origins: OriginPolicy, throttle: AuthThrottle): RoleGuards {
  return { analyst: requireRole(auth, origins, throttle, 'analyst'), admin: requireRole(auth, origins, throttle, 'admin') };
}

/**
 * An onRequest hook that lets through only `role` (admin includes analyst) and answers
 * 401/403 otherwise, or 429 to a source that failed too often, before any handler or
 * WebSocket upgrade runs.
 */
function requireRole(auth: Authenticator, origins: OriginPolicy, throttle: AuthThrottle, role: Role): onRequestAsyncHookHandler {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!origins.permits(request)) {
      await reply.code(403).send({ error: 'forbidden_origin', message: 'cross-site request refused' });
      return reply;
    }
    const wait = throttle.retryAfter(request.ip);
    if (wait > 0) return refuseThrottled(reply, wait);
    const found = auth.authenticate(request);
    if (found === null) {
      throttle.failed(request.ip);
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthenticated', message: 'a valid token or session is required' });
      return reply;
    }
    if (role === 'admin' && found.principal.role !== 'admin') {
      await reply.code(403).send({ error: 'forbidden', message: 'this needs the admin role' });
      return reply;
    }
    request.principal = found.principal;
    request.access = found;
  };
}
