import { afterEach, describe, expect, it } from 'vitest';
import { dig, rawQuery } from '../support/dig.js';
import { encodeQuery, parsePacket, TYPE } from '../support/packets.js';
import { startScriptedUpstream } from '../support/scripted-upstream.js';
import { freePort } from '../support/ports.js';
import { sleep, startWachtpost, type RunningWachtpost } from './harness.js';

type Upstream = Awaited<ReturnType<typeof startScriptedUpstream>>;
const records = {
  'www.test.wachtpost': [{ type: 'A' as const, ttl: 300, data: '192.0.2.80' }],
  'short.test.wachtpost': [{ type: 'A' as const, ttl: 1, data: '192.0.2.81' }],
};

const running: Array<{ stop(): Promise<void> }> = [];
async function upstream(): Promise<Upstream> {
  const up = await startScriptedUpstream({ records });
  running.push(up);
  return up;
}
async function wachtpost(...args: Parameters<typeof startWachtpost>): Promise<RunningWachtpost> {
  const started = await startWachtpost(...args);
  running.unshift(started);
  return started;
}

afterEach(async () => {
  for (const item of running.splice(0)) await item.stop();
});

describe('forwarding', () => {
  it('answers SERVFAIL within the configured timeout when the upstream stays silent', async () => {
    const up = await upstream();
    up.setBehaviour('silent');
    const wp = await wachtpost([up], 'upstream: { timeout_ms: 600, attempt_timeout_ms: 250 }');
    const started = Date.now();
    const result = await dig(wp.server, 'www.test.wachtpost', 'A', { timeoutSeconds: 3 });
    const elapsed = Date.now() - started;
    expect(result.status).toBe('SERVFAIL');
    expect(elapsed).toBeLessThan(1500);
    expect(up.queries.length).toBeGreaterThanOrEqual(2); // retried with fresh IDs
    const ids = new Set(up.queries.map((query) => query.id));
    expect(ids.size).toBe(up.queries.length);
  });

  it('fails over to the second upstream', async () => {
    const dead = await upstream();
    dead.setBehaviour('silent');
    const alive = await upstream();
    const wp = await wachtpost([dead, alive], 'upstream: { attempt_timeout_ms: 200 }');
    const result = await dig(wp.server, 'www.test.wachtpost', 'A');
    expect(result.status).toBe('NOERROR');
    expect(result.answer[0]!.data).toBe('192.0.2.80');
    expect(alive.queries.length).toBe(1);
  });

  it('fails over when the first upstream is a closed port', async () => {
    const closedPort = await freePort();
    const alive = await upstream();
    const wp = await wachtpost([{ host: '127.0.0.1', port: closedPort }, alive], 'upstream: { attempt_timeout_ms: 300 }');
    const result = await dig(wp.server, 'www.test.wachtpost', 'A');
    expect(result.status).toBe('NOERROR');
  });

  it('retries over TCP when the upstream truncates', async () => {
    const up = await upstream();
    up.setBehaviour('truncate-udp');
    const wp = await wachtpost([up]);
    const result = await dig(wp.server, 'www.test.wachtpost', 'A');
    expect(result.status).toBe('NOERROR');
    expect(result.answer[0]!.data).toBe('192.0.2.80');
    expect(up.queries.map((query) => query.transport)).toEqual(['udp', 'tcp']);
  });

  it('spreads upstream queries over random source ports and IDs', async () => {
    const up = await upstream();
    const wp = await wachtpost([up], 'cache: { max_entries: 10 }');
    for (let i = 0; i < 6; i++) await dig(wp.server, `n${i}.test.wachtpost`, 'A');
    const ports = new Set(up.queries.map((query) => query.sourcePort));
    const ids = new Set(up.queries.map((query) => query.id));
    expect(up.queries.length).toBe(6);
    // Each query leaves from a random one of 32 pooled sockets (udp-socket-pool.test.ts
    // checks their rotation): fewer than 3 ports for 6 queries happens 3 times in 100,000.
    expect(ports.size).toBeGreaterThanOrEqual(3);
    expect(ids.size).toBeGreaterThanOrEqual(5);
  });

  it('coalesces identical questions in flight into one upstream query', async () => {
    const up = await upstream();
    up.setBehaviour({ delayMs: 300 });
    const wp = await wachtpost([up]);
    // Sent from sockets of this process, not dig: see rawQuery.
    const replies = await Promise.all(Array.from({ length: 8 }, (_, id) => rawQuery(wp.server, encodeQuery('www.test.wachtpost', TYPE.A, { id }))));
    const answers = replies.map((reply) => (reply === null ? 'timeout' : parsePacket(reply)));
    const seen = answers.map((packet) => (packet === 'timeout' ? packet : [packet.header.id, (packet.answers[0] as { address?: string } | undefined)?.address]));
    expect(seen).toEqual(replies.map((_, id) => [id, '192.0.2.80']));
    expect(up.queries.length).toBe(1);
    expect(wp.resolver.chain.coalesce.coalesced).toBe(7);
  });

  it('caches a negative answer per its SOA and does not ask again', async () => {
    const up = await upstream();
    const wp = await wachtpost([up]);
    const first = await dig(wp.server, 'nothing.test.wachtpost', 'A');
    const second = await dig(wp.server, 'nothing.test.wachtpost', 'A');
    expect(first.status).toBe('NXDOMAIN');
    expect(second.status).toBe('NXDOMAIN');
    expect(up.queries.length).toBe(1);
  });
});

describe('spoofed answers', () => {
  for (const spoofFirst of ['wrong-id', 'wrong-question', 'other-source'] as const) {
    it(`ignores a forged answer (${spoofFirst}) and never caches it`, async () => {
      const up = await upstream();
      up.setBehaviour({ spoofFirst, spoofAddress: '192.0.2.66' });
      const wp = await wachtpost([up]);
      const first = await dig(wp.server, 'www.test.wachtpost', 'A');
      expect(first.answer.map((record) => record.data)).toEqual(['192.0.2.80']);
      up.setBehaviour('silent');
      const cached = await dig(wp.server, 'www.test.wachtpost', 'A');
      expect(cached.answer.map((record) => record.data)).toEqual(['192.0.2.80']);
      const rejected = wp.resolver.chain.upstream.counters;
      expect(rejected.rejectedId + rejected.rejectedQuestion + rejected.rejectedSource).toBeGreaterThanOrEqual(
        spoofFirst === 'other-source' ? 0 : 1,
      );
    });
  }
});

describe('serve-stale (RFC 8767)', () => {
  it('serves an expired answer with a 30 s TTL when every upstream fails', async () => {
    const up = await upstream();
    const wp = await wachtpost([up], 'upstream: { timeout_ms: 500, attempt_timeout_ms: 200 }\ncache: { prefetch: { enabled: false } }');
    const fresh = await dig(wp.server, 'short.test.wachtpost', 'A');
    expect(fresh.answer[0]!.ttl).toBe(1);
    await up.stop();
    await sleep(1200);
    const stale = await dig(wp.server, 'short.test.wachtpost', 'A', { timeoutSeconds: 3 });
    expect(stale.status).toBe('NOERROR');
    expect(stale.answer[0]!.data).toBe('192.0.2.81');
    expect(stale.answer[0]!.ttl).toBe(30);
    expect(wp.resolver.chain.cache.counters.stale).toBe(1);
  });

  it('answers SERVFAIL when serve-stale is off', async () => {
    const up = await upstream();
    const wp = await wachtpost(
      [up],
      'upstream: { timeout_ms: 500, attempt_timeout_ms: 200 }\ncache: { serve_stale: { enabled: false }, prefetch: { enabled: false } }',
    );
    await dig(wp.server, 'short.test.wachtpost', 'A');
    up.setBehaviour('silent');
    await sleep(1200);
    const result = await dig(wp.server, 'short.test.wachtpost', 'A', { timeoutSeconds: 3 });
    expect(result.status).toBe('SERVFAIL');
  });
});

describe('prefetch', () => {
  it('refreshes a popular entry before it expires', async () => {
    const up = await upstream();
    const wp = await wachtpost([up], 'cache: { min_ttl: 2, prefetch: { min_hits: 2, remaining_ratio: 0.6 } }');
    await dig(wp.server, 'short.test.wachtpost', 'A');
    await dig(wp.server, 'short.test.wachtpost', 'A');
    await sleep(1000);
    await dig(wp.server, 'short.test.wachtpost', 'A');
    await sleep(200);
    expect(wp.resolver.chain.cache.counters.prefetches).toBe(1);
    expect(up.queries.length).toBe(2);
  });
});
