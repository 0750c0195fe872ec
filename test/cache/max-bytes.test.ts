import { describe, expect, it } from 'vitest';
import { spawnWithConfig, stopServed, withKnot } from '../integration/harness.js';
import { childPids, scrape, statusKb } from '../support/served.js';
import { udpStream } from '../support/udp-load.js';

const TXT = 16;
const MAX_BYTES = 32 * 1024 * 1024;
const upstream = withKnot();

describe('cache.max_bytes', () => {
  it('holds 40,000 different answers of 4 kB within the byte limit, in the metric and in the worker', async () => {
    // udp_size 4096: the 4 kB answers come from the upstream over UDP.
    const served = await spawnWithConfig(`dns: { udp_size: 4096 }\ncache: { max_bytes: ${MAX_BYTES} }`, ['--upstream', `127.0.0.1:${upstream.knot.port}`, '--workers', '1']);
    try {
      const [worker] = childPids(served.child.pid!);
      const before = statusKb(worker!, 'VmRSS');
      const load = await udpStream(served.port, 40_000, 100, (i) => `n${i}.fourk.test.wachtpost`, TXT, { timeoutMs: 300_000 });
      expect(load.sent - load.unanswered).toBeGreaterThan(39_000);
      const after = statusKb(worker!, 'VmRSS');
      expect(await scrape(served.httpPort, 'wachtpost_cache_answer_bytes')).toBeLessThanOrEqual(MAX_BYTES);
      const entries = await scrape(served.httpPort, 'wachtpost_cache_entries');
      // About 7,000 answers of 4 kB (4,480-byte chunks) fit; without the limit all 40,000 stay (about 180 MB).
      expect(entries).toBeGreaterThan(5000);
      expect(entries).toBeLessThan(8000);
      expect(await scrape(served.httpPort, 'wachtpost_cache_evictions_total')).toBeGreaterThan(30_000);
      expect((after - before) / 1024).toBeLessThan(MAX_BYTES / 1024 / 1024 + 64);
    } finally {
      await stopServed(served);
    }
  }, 360_000);
});
