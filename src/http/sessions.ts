import { randomBytes } from 'node:crypto';
import { Signer } from '@fastify/cookie';

/** Signed-out sessions remembered until they expire; past this the oldest is forgotten first. */
export const MAX_SIGNED_OUT = 10_000;

/** Why a session, or every access through a token, ended: the WebSocket close reason. */
export type EndReason = 'signed out' | 'session expired' | 'token revoked';

/** What a valid session cookie says. */
export interface SessionClaim {
  /** Random id: what a sign-out and a feed socket refer to. */
  readonly id: string;
  /** SHA-256 of the token it was opened with: the principal is looked up through it, so a removed token ends it. */
  readonly token: string;
  /** Epoch milliseconds after which the cookie is refused. */
  readonly expires: number;
}

const ID = /^[A-Za-z0-9_-]{22}$/;
const TOKEN_HASH = /^[0-9a-f]{64}$/;
const EXPIRES = /^[0-9]{1,15}$/;

/**
 * Stateless browser sessions: the cookie carries its id, the token's hash and its expiry,
 * HMAC-signed with the session keys (the first signs, every key verifies). Any instance that
 * holds the keys accepts it, before and after a restart, and nothing grows with sign-ins.
 * Access ends with the expiry, with the token (removed from the configuration), with the
 * key (removed from the keys file), or on this instance when the session signs out.
 */
export class SessionCookies {
  private signer: Signer;
  /** Signed-out ids with their expiry, oldest first: refused here until they would have expired anyway. */
  private readonly signedOut = new Map<string, number>();

  constructor(
    keys: readonly Buffer[],
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.signer = new Signer([...keys]);
  }

  /** Takes reloaded keys: cookies signed only with a removed key are refused from now on. */
  replaceKeys(keys: readonly Buffer[]): void {
    this.signer = new Signer([...keys]);
  }

  get ttlSeconds(): number {
    return this.ttlMs / 1000;
  }

  /** A signed cookie value for a new session of `token` (its hash). */
  issue(token: string): string {
    return this.signer.sign(`${randomBytes(16).toString('base64url')}.${token}.${this.now() + this.ttlMs}`);
  }

  /** The claim of a cookie value that is signed with a current key, unexpired and not signed out; else null. */
  read(value: string | undefined): SessionClaim | null {
    if (value === undefined || value.length > 256) return null;
    const { valid, value: payload } = this.signer.unsign(value);
    if (!valid || payload === null) return null;
    const [id, token, expires, extra] = payload.split('.');
    if (extra !== undefined || !ID.test(id ?? '') || !TOKEN_HASH.test(token ?? '') || !EXPIRES.test(expires ?? '')) return null;
    const claim = { id: id!, token: token!, expires: Number(expires) };
    return claim.expires > this.now() && !this.signedOut.has(claim.id) ? claim : null;
  }

  /** Refuses this session on this instance until it expires. */
  signOut(claim: SessionClaim): void {
    const now = this.now();
    // Insertion order is expiry order (one TTL for all), so the expired are at the front.
    for (const [id, expires] of this.signedOut) {
      if (expires > now && this.signedOut.size < MAX_SIGNED_OUT) break;
      this.signedOut.delete(id);
    }
    this.signedOut.set(claim.id, claim.expires);
  }
}
