import { afterEach, describe, expect, it } from 'vitest';
import { sleep, spawnWithConfig, startWachtpost, stopServed, type RunningWachtpost } from '../integration/harness.js';
import { dig } from '../support/dig.js';
import { startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { eventually, scrape } from '../support/served.js';

const STALE_ANSWER = 3;
const running: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  for (const item of running.splice(0)) await item.stop();
});

async function upstream(): Promise<ScriptedUpstream> {
  const up = await startScriptedUpstream({ records: { 'short.test.wachtpost': [{ type: 'A', ttl: 1, data: '192.0.2.81' }] } });
  running.push(up);
  return up;
}

/** A resolver without prefetch (it would refresh the short entry by itself). */
async function wachtpost(up: ScriptedUpstream, upstreamYaml: string, serveStaleYaml = ''): Promise<RunningWachtpost> {
  const wp = await startWachtpost([up], `upstream: ${upstreamYaml}\ncache: { prefetch: { enabled: false }, serve_stale: { ${serveStaleYaml} } }`);
  running.unshift(wp);
  return wp;
}

/** Caches short.test.wachtpost (TTL 1 s) and waits until it has expired. */
async function cachedAndExpired(wp: RunningWachtpost): Promise<void> {
  expect((await dig(wp.server, 'short.test.wachtpost', 'A')).answer[0]!.ttl).toBe(1);
  await sleep(1200);
}

describe('serve-stale (RFC 8767)', () => {
  it('tags a stale answer with Extended DNS Error 3 (Stale Answer)', async () => {
    const up = await upstream();
    const wp = await wachtpost(up, '{ timeout_ms: 500, attempt_timeout_ms: 200 }');
    await cachedAndExpired(wp);
    up.setBehaviour('silent');
    const stale = await dig(wp.server, 'short.test.wachtpost', 'A', { timeoutSeconds: 3 });
    expect(stale.status).toBe('NOERROR');
    expect(stale.answer[0]!.ttl).toBe(30);
    expect(stale.ede?.code).toBe(STALE_ANSWER);
    // Clients without EDNS get the answer without an OPT record to carry it.
    const plain = await dig(wp.server, 'short.test.wachtpost', 'A', { timeoutSeconds: 3, bufsize: 'noedns' });
    expect(plain.answer[0]!.data).toBe('192.0.2.81');
    expect(plain.edns).toBeNull();
  });

  it('after the upstream failed, serves stale answers at once, until an answer comes again', async () => {
    const up = await upstream();
    const wp = await wachtpost(up, '{ timeout_ms: 800, attempt_timeout_ms: 300, failure_memory_ms: 60000 }', 'client_timeout_ms: 10000');
    await cachedAndExpired(wp);
    up.setBehaviour('silent');
    const counters = wp.resolver.chain.cache.counters;
    // The first client waits for the upstream to fail.
    expect((await dig(wp.server, 'short.test.wachtpost', 'A', { timeoutSeconds: 3 })).ede?.code).toBe(STALE_ANSWER);
    expect(counters.staleAtOnce).toBe(0);
    expect(wp.resolver.upstream.failing).toBe(1);
    // The next ones do not wait again: the failure is remembered.
    for (let i = 0; i < 3; i++) expect((await dig(wp.server, 'short.test.wachtpost', 'A', { timeoutSeconds: 3 })).ede?.code).toBe(STALE_ANSWER);
    expect(counters.staleAtOnce).toBe(3);
    expect(counters.stale).toBe(4);
    // Meanwhile the entry is refreshed in the background; once the upstream answers, it is fresh again.
    up.setBehaviour('answer');
    up.setRecords('short.test.wachtpost', [{ type: 'A', ttl: 300, data: '192.0.2.82' }]);
    expect(
      await eventually(async () => {
        const reply = await dig(wp.server, 'short.test.wachtpost', 'A', { timeoutSeconds: 3 });
        return reply.ede === null && reply.answer[0]?.data === '192.0.2.82';
      }, 10_000),
    ).toBe(true);
    expect(wp.resolver.upstream.failing).toBe(0);
  });

  it('gives the stale answer after the client timeout, and stores the slow upstream answer when it comes', async () => {
    const up = await upstream();
    const wp = await wachtpost(up, '{ timeout_ms: 3000, attempt_timeout_ms: 2500 }', 'client_timeout_ms: 300');
    await cachedAndExpired(wp);
    up.setRecords('short.test.wachtpost', [{ type: 'A', ttl: 300, data: '192.0.2.83' }]);
    up.setBehaviour({ delayMs: 1000 });
    const stale = await dig(wp.server, 'short.test.wachtpost', 'A', { timeoutSeconds: 3 });
    expect(stale.answer[0]!.data).toBe('192.0.2.81');
    expect(stale.ede?.code).toBe(STALE_ANSWER);
    expect(wp.resolver.chain.cache.counters.staleAfterClientTimeout).toBe(1);
    expect(
      await eventually(async () => (await dig(wp.server, 'short.test.wachtpost', 'A', { timeoutSeconds: 3 })).answer[0]?.data === '192.0.2.83', 10_000),
    ).toBe(true);
  });
});

describe('failure memory across workers', () => {
  it('tells every worker when one finds the upstream failing', async () => {
    const up = await upstream();
    up.setBehaviour('silent');
    const yaml = 'upstream: { timeout_ms: 500, attempt_timeout_ms: 200, failure_memory_ms: 60000 }';
    const served = await spawnWithConfig(yaml, ['--upstream', `127.0.0.1:${up.port}`, '--workers', '2']);
    try {
      expect(await scrape(served.httpPort, 'wachtpost_upstream_failing')).toBe(0);
      expect((await dig({ host: '127.0.0.1', port: served.port }, 'gone.test.wachtpost', 'A', { timeoutSeconds: 3 })).status).toBe('SERVFAIL');
      expect(await eventually(async () => (await scrape(served.httpPort, 'wachtpost_upstream_failing')) === 2, 5000)).toBe(true);
    } finally {
      await stopServed(served);
    }
  }, 30_000);
});
