import { randomFillSync } from 'node:crypto';

const pool = Buffer.alloc(4096);
let position = pool.length;

function randomByte(): number {
  if (position >= pool.length) {
    randomFillSync(pool);
    position = 0;
  }
  return pool[position++]!;
}

/**
 * An unpredictable 16-bit query ID (RFC 5452 §9.2), drawn from a CSPRNG in batches so
 * each ID costs two byte reads.
 */
export function randomQueryId(): number {
  return (randomByte() << 8) | randomByte();
}

/**
 * Writes the letters of the wire name at `start` (uncompressed, as in a query we built) in
 * random case, one CSPRNG bit per letter (the 0x20 bit of draft-vixie-dnsext-dns0x20): an
 * off-path forger must guess these bits as well as the ID and the port.
 */
export function randomizeCase(message: Buffer, start: number): void {
  let bits = 0;
  let left = 0;
  for (let pos = start, length = message[pos]!; length !== 0; length = message[pos]!) {
    for (let i = pos + 1; i <= pos + length; i++) {
      const c = message[i]! | 0x20;
      if (c < 0x61 || c > 0x7a) continue;
      if (left === 0) {
        bits = randomByte();
        left = 8;
      }
      message[i] = bits & 1 ? c & ~0x20 : c;
      bits >>>= 1;
      left--;
    }
    pos += length + 1;
  }
}
