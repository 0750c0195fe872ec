/** Buckets in a table: a power of two, 20 bytes each (1.25 MiB for 65,536). */
const TABLE_SIZE = 65_536;

/**
 * Token buckets per client address, in a fixed table: each address hashes to one bucket,
 * which a newcomer whose hash differs takes over (starting full), so memory is bounded
 * whatever the number of addresses and nothing is allocated per query. Two addresses
 * sharing a bucket share its rate only when their 32-bit hashes are equal.
 */
export class TokenBuckets {
  private readonly hashes = new Int32Array(TABLE_SIZE);
  private readonly tokens = new Float64Array(TABLE_SIZE);
  private readonly stamps = new Float64Array(TABLE_SIZE);
  private readonly perMs: number;

  constructor(
    perSecond: number,
    private readonly burst: number,
  ) {
    this.perMs = perSecond / 1000;
  }

  /** Takes a token from `client`'s bucket at `now` (ms); false when it is empty. */
  take(client: string, now: number): boolean {
    // FNV-1a over the address text: no string or number is made per query.
    let hash = 0x811c9dc5;
    for (let i = 0; i < client.length; i++) hash = Math.imul(hash ^ client.charCodeAt(i), 0x01000193);
    hash |= 1;
    const at = Math.imul(hash, 0x9e3779b1) >>> 16;
    let tokens: number;
    if (this.hashes[at] !== hash) {
      this.hashes[at] = hash;
      tokens = this.burst;
    } else {
      tokens = this.tokens[at]! + (now - this.stamps[at]!) * this.perMs;
      if (tokens > this.burst) tokens = this.burst;
    }
    this.stamps[at] = now;
    if (tokens < 1) {
      this.tokens[at] = tokens;
      return false;
    }
    this.tokens[at] = tokens - 1;
    return true;
  }
}
