import { describe, expect, it } from 'vitest';
import { spawnWithConfig, stopServed, withKnot, type ServedProcess } from '../integration/harness.js';
import { rawQuery } from '../support/dig.js';
import { encodeQuery, parsePacket, TYPE } from '../support/packets.js';
import { startScriptedUpstream } from '../support/scripted-upstream.js';
import { askFromFreshPorts as askAll, childPids, eventually, scrape } from '../support/served.js';

const upstream = withKnot();
/** Questions with IDs counting up, so the kernel hands them to both workers' sockets in turn. */
const ASKS = 40;

const askFromFreshPorts = (served: ServedProcess, name: string): Promise<number> => askAll(served.port, name, ASKS);

async function detections(httpPort: number, app: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`wachtpost_detections_total{app="${app}"`))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

/** Runs `body` against a 2-worker server with `yaml` as its configuration, then stops it. */
async function withServer(yaml: string, body: (served: ServedProcess) => Promise<void>): Promise<void> {
  const served = await spawnWithConfig(yaml, ['--upstream', `127.0.0.1:${upstream.knot.port}`, '--workers', '2']);
  try {
    await body(served);
  } finally {
    await stopServed(served);
  }
}

describe('one cache for all workers', () => {
  it('answers a name one worker fetched from the cache on the other, and keeps it when a worker is replaced', async () => {
    await withServer('', async (served) => {
      expect(await askFromFreshPorts(served, 'a.test.wachtpost')).toBe(ASKS);
      expect(await scrape(served.httpPort, 'wachtpost_cache_misses_total')).toBe(1);
      expect(await scrape(served.httpPort, 'wachtpost_cache_hits_total')).toBe(ASKS - 1);
      // Both workers report the one cache: the node holds one entry, not one per worker.
      expect(await scrape(served.httpPort, 'wachtpost_cache_entries')).toBe(1);

      // A worker killed outright is replaced; the replacement maps the same cache.
      const [victim] = childPids(served.child.pid!);
      process.kill(victim!, 'SIGKILL');
      expect(await eventually(() => childPids(served.child.pid!).length === 2 && !childPids(served.child.pid!).includes(victim!), 10_000)).toBe(true);
      expect(await eventually(async () => (await rawQuery({ host: '127.0.0.1', port: served.port }, encodeQuery('x.test.wachtpost', TYPE.A))) !== null, 10_000)).toBe(true);
      const missesBefore = await scrape(served.httpPort, 'wachtpost_cache_misses_total');
      expect(await askFromFreshPorts(served, 'a.test.wachtpost')).toBe(ASKS);
      expect(await scrape(served.httpPort, 'wachtpost_cache_misses_total')).toBe(missesBefore);
    });
  }, 60_000);

  it("tags an answer another worker stored (a name that leads into an app's domain by CNAME)", async () => {
    await withServer('', async (served) => {
      expect(await askFromFreshPorts(served, 'cloaked.test.wachtpost')).toBe(ASKS);
      expect(await scrape(served.httpPort, 'wachtpost_cache_misses_total')).toBe(1);
      // Every query counts for the app, whichever worker answered it from the cache.
      expect(await eventually(async () => (await detections(served.httpPort, 'tiktok')) === ASKS, 5000)).toBe(true);
    });
  }, 60_000);

  it('refreshes a popular entry once for all workers, shortly before it expires', async () => {
    // short.test.wachtpost has a TTL of 5 s: refreshed once less than 3 s remain.
    await withServer('cache: { prefetch: { min_hits: 2, remaining_ratio: 0.6 } }', async (served) => {
      expect(await askFromFreshPorts(served, 'short.test.wachtpost')).toBe(ASKS);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect(await askFromFreshPorts(served, 'short.test.wachtpost')).toBe(ASKS);
      // The first fetch and one refresh: the mark is shared, so the other worker does not refresh too.
      expect(await eventually(async () => (await scrape(served.httpPort, 'wachtpost_upstream_answers_total')) === 2, 3000)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await scrape(served.httpPort, 'wachtpost_upstream_answers_total')).toBe(2);
      expect(await scrape(served.httpPort, 'wachtpost_cache_misses_total')).toBe(1);
    });
  }, 60_000);

  it.each([
    { cache: 'shared', yaml: '', fetches: 1 },
    { cache: 'one per worker', yaml: 'cache: { shared: false }', fetches: 2 },
  ])('fetches a question both workers miss at once $fetches time(s) with the cache $cache', async ({ yaml, fetches }) => {
    const slow = await startScriptedUpstream({ records: { 'slow.test.wachtpost': [{ type: 'A', ttl: 300, data: '192.0.2.80' }] }, behaviour: { delayMs: 300 } });
    const served = await spawnWithConfig(yaml, ['--upstream', `127.0.0.1:${slow.port}`, '--workers', '2']);
    try {
      // All at once, with IDs counting up so both workers get some; each from a socket of its own (see rawQuery).
      const replies = await Promise.all(
        Array.from({ length: ASKS }, (_, id) => rawQuery({ host: '127.0.0.1', port: served.port }, encodeQuery('slow.test.wachtpost', TYPE.A, { id }), { timeoutMs: 5000 })),
      );
      const addresses = replies.map((reply) => (reply === null ? 'timeout' : (parsePacket(reply).answers[0] as { address?: string } | undefined)?.address));
      expect(addresses).toEqual(replies.map(() => '192.0.2.80'));
      expect(slow.queries.map((query) => query.name.toLowerCase())).toEqual(Array.from({ length: fetches }, () => 'slow.test.wachtpost'));
      // The other worker's queries waited for the first worker's fetch and were answered from the cache.
      expect((await scrape(served.httpPort, 'wachtpost_cache_awaited_total')) > 0).toBe(fetches === 1);
    } finally {
      await stopServed(served);
      await slow.stop();
    }
  }, 60_000);

  it('caches per worker with cache.shared off: each worker misses once', async () => {
    await withServer('cache: { shared: false }', async (served) => {
      expect(await askFromFreshPorts(served, 'a.test.wachtpost')).toBe(ASKS);
      expect(await scrape(served.httpPort, 'wachtpost_cache_misses_total')).toBe(2);
      expect(await scrape(served.httpPort, 'wachtpost_cache_entries')).toBe(2);
    });
  }, 60_000);
});
