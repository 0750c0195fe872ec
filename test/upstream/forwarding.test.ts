import { afterEach, describe, expect, it } from 'vitest';
import { sleep, startWachtpost, type RunningWachtpost } from '../integration/harness.js';
import { dig } from '../support/dig.js';
import { startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';

const running: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  for (const item of running.splice(0)) await item.stop();
});

async function setUp(yaml = ''): Promise<{ up: ScriptedUpstream; wp: RunningWachtpost }> {
  const up = await startScriptedUpstream({ records: { 'www.test.wachtpost': [{ type: 'A', ttl: 300, data: '192.0.2.80' }] } });
  const wp = await startWachtpost([up], yaml);
  running.push(up);
  running.unshift(wp);
  return { up, wp };
}

describe('an upstream slower than one attempt', () => {
  it('answers through an earlier attempt still listening, and is asked no more after the answer', async () => {
    // The defaults: attempts 700 ms apart, a 2 s deadline; the upstream takes 1.5 s for each.
    const { up, wp } = await setUp();
    up.setBehaviour({ delayMs: 1500 });
    const result = await dig(wp.server, 'www.test.wachtpost', 'A', { timeoutSeconds: 5 });
    const answeredAt = Date.now();
    expect(result.status).toBe('NOERROR');
    expect(result.answer[0]!.data).toBe('192.0.2.80');
    await sleep(1000);
    expect(up.queries.length).toBeGreaterThanOrEqual(2);
    expect(up.queries.length).toBeLessThanOrEqual(3);
    for (const query of up.queries) expect(query.at).toBeLessThanOrEqual(answeredAt);
    expect(wp.resolver.chain.upstream.forwardCounters.lateAnswers).toBe(1);
  });

  it('still gives up at the deadline when no attempt answers', async () => {
    const { up, wp } = await setUp('upstream: { timeout_ms: 800, attempt_timeout_ms: 300 }');
    up.setBehaviour({ delayMs: 1500 });
    const result = await dig(wp.server, 'www.test.wachtpost', 'A', { timeoutSeconds: 5 });
    expect(result.status).toBe('SERVFAIL');
    expect(result.ede?.code).toBe(22);
  });
});
