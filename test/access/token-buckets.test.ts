import { describe, expect, it } from 'vitest';
import { TokenBuckets } from '../../src/access/token-buckets.js';

describe('TokenBuckets', () => {
  it('gives a client its burst at once, then its rate', () => {
    const buckets = new TokenBuckets(2, 3);
    const taken = (now: number, count: number): number => Array.from({ length: count }, () => buckets.take('192.0.2.1', now)).filter(Boolean).length;
    expect(taken(0, 10)).toBe(3);
    expect(taken(499, 10)).toBe(0);
    expect(taken(500, 10)).toBe(1);
    // Refills up to the burst, never beyond.
    expect(taken(100_000, 10)).toBe(3);
  });

  it('keeps clients apart, and stays within its table however many clients come', () => {
    const buckets = new TokenBuckets(1, 1);
    expect(buckets.take('192.0.2.1', 0)).toBe(true);
    expect(buckets.take('192.0.2.1', 0)).toBe(false);
    expect(buckets.take('192.0.2.2', 0)).toBe(true);
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 200_000; i++) buckets.take(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 1);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
  });
});
