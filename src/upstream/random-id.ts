import { randomFillSync } from 'node:crypto';

const pool = Buffer.alloc(4096);
let position = pool.length;

/**
 * An unpredictable 16-bit query ID (RFC 5452 §9.2), drawn from a CSPRNG in batches so
 * each ID costs two byte reads.
 */
export function randomQueryId(): number {
  if (position >= pool.length) {
    randomFillSync(pool);
    position = 0;
  }
  const id = (pool[position]! << 8) | pool[position + 1]!;
  position += 2;
  return id;
}
