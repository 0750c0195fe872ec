import { randomBytes } from 'node:crypto';

/** Sign-ins one token may hold at once; the next closes that token's oldest. */
export const MAX_SESSIONS_PER_TOKEN = 20;
/** How often expired sessions are looked for (so their feed sockets close), while any exist. */
const SWEEP_MS = 15_000;

/** Why a session, or every access through a token, ended: the WebSocket close reason. */
export type EndReason = 'signed out' | 'session expired' | 'session replaced by a newer sign-in' | 'token revoked';

interface Session {
  /** SHA-256 of the token it was opened with: the principal is looked up through it, so a removed token ends it. */
  readonly token: string;
  readonly expires: number;
}

/**
 * Browser sessions in memory, bounded per token: a token holds at most
 * MAX_SESSIONS_PER_TOKEN, and a new sign-in closes the oldest of the same token only, so
 * sign-ins with one token can never push out another token's sessions. Memory is bounded
 * by the number of configured tokens. Every end (sign-out, expiry, replacement, a token
 * removed) is announced to `onEnd`, so whatever was opened with it (feed sockets) closes too.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  /** Each token's session ids, oldest first (a Set keeps insertion order). */
  private readonly byToken = new Map<string, Set<string>>();
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly ttlMs: number,
    /** Told the key that lost access (`session:ID` or `token:SHA256`) and why. */
    private readonly onEnd: (key: string, reason: EndReason) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Opens a session for `token` (its hash); returns the session id, the cookie's value. */
  open(token: string): string {
    let ids = this.byToken.get(token);
    if (ids === undefined) this.byToken.set(token, (ids = new Set()));
    while (ids.size >= MAX_SESSIONS_PER_TOKEN) this.end(ids.values().next().value!, 'session replaced by a newer sign-in');
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { token, expires: this.now() + this.ttlMs });
    ids.add(id);
    this.sweeper ??= setInterval(() => this.expire(), SWEEP_MS).unref();
    return id;
  }

  /** The token hash behind a live session, or null (unknown or expired: an expired one is ended). */
  tokenOf(id: string): string | null {
    const session = this.sessions.get(id);
    if (session === undefined) return null;
    if (session.expires > this.now()) return session.token;
    this.end(id, 'session expired');
    return null;
  }

  end(id: string, reason: EndReason): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    this.sessions.delete(id);
    const ids = this.byToken.get(session.token)!;
    ids.delete(id);
    if (ids.size === 0) this.byToken.delete(session.token);
    if (this.sessions.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
    this.onEnd(`session:${id}`, reason);
  }

  /** Ends every session of a token that no longer exists, and everything opened with the token itself. */
  revoke(token: string): void {
    for (const id of [...(this.byToken.get(token) ?? [])]) this.end(id, 'token revoked');
    this.onEnd(`token:${token}`, 'token revoked');
  }

  /** Ends every session past its expiry (also runs every SWEEP_MS while sessions exist). */
  expire(): void {
    const now = this.now();
    for (const [id, session] of this.sessions) if (session.expires <= now) this.end(id, 'session expired');
  }
}
