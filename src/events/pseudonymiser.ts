import { createHmac } from 'node:crypto';

/** Pseudonyms carry this prefix so nobody mistakes one for an address. */
export const PSEUDONYM_PREFIX = 'p:';
const HEX_DIGITS = 24;
export const MIN_KEY_LENGTH = 32;

/**
 * Keyed pseudonyms of client addresses (HMAC-SHA256, truncated to 96 bits): stable for one
 * key, so a device can be followed over time, but useless without the key. Results are
 * memoised because a phone asks many times.
 */
export class Pseudonymiser {
  private readonly memo = new Map<string, string>();

  constructor(
    private readonly key: string,
    /** Told of every address the first time it is seen, so an administrator can re-identify it. */
    private readonly onNew: (pseudonym: string, address: string) => void = () => {},
  ) {
    if (key.length < MIN_KEY_LENGTH) throw new Error(`the pseudonym key must be at least ${MIN_KEY_LENGTH} characters`);
  }

  of(address: string): string {
    let pseudonym = this.memo.get(address);
    if (pseudonym === undefined) {
      pseudonym = PSEUDONYM_PREFIX + createHmac('sha256', this.key).update(address).digest('hex').slice(0, HEX_DIGITS);
      // Bounded: a VPN pool is at most a few hundred thousand addresses; start over beyond that.
      if (this.memo.size >= 1_000_000) this.memo.clear();
      this.memo.set(address, pseudonym);
      this.onNew(pseudonym, address);
    }
    return pseudonym;
  }
}
