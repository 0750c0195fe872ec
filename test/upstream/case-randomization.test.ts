import { afterEach, describe, expect, it } from 'vitest';
import { startWachtpost, type RunningWachtpost } from '../integration/harness.js';
import { dig, rawQuery } from '../support/dig.js';
import { startKnot } from '../support/knot.js';
import { encodeQuery, TYPE } from '../support/packets.js';
import { startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';

const running: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  for (const item of running.splice(0)) await item.stop();
});

const records = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`name${i}.test.wachtpost`, [{ type: 'A' as const, ttl: 300, data: `192.0.2.${i}` }]]));

async function setUp(yaml = '', lowercase = false): Promise<{ up: ScriptedUpstream; wp: RunningWachtpost }> {
  const up = await startScriptedUpstream({ records, lowercase });
  const wp = await startWachtpost([up], yaml);
  running.push(up);
  running.unshift(wp);
  return { up, wp };
}

const mixed = (name: string): boolean => /[A-Z]/.test(name);

describe('0x20: query names in random case', () => {
  it('asks in mixed case, and the client gets its own spelling back', async () => {
    const { up, wp } = await setUp();
    for (let i = 0; i < 6; i++) expect((await dig(wp.server, `name${i}.test.wachtpost`, 'A')).answer[0]!.data).toBe(`192.0.2.${i}`);
    // 21 or 22 letters each: all six in lower case would be one chance in 2^120.
    expect(up.queries.filter((query) => mixed(query.name)).length).toBeGreaterThan(0);
    for (const query of up.queries) expect(query.name.toLowerCase()).toMatch(/^name\d\.test\.wachtpost$/);
    const spelled = encodeQuery('NaMe0.TEST.wachtPOST', TYPE.A, { id: 9 });
    const reply = (await rawQuery(wp.server, spelled))!;
    expect(reply.subarray(12, spelled.length - 11)).toEqual(spelled.subarray(12, spelled.length - 11));
    expect(wp.resolver.chain.upstream.counters.rejectedCase).toBe(0);
  });

  it('falls back to plain case for an upstream that does not echo it, and remembers', async () => {
    const { up, wp } = await setUp('', true);
    for (let i = 0; i < 3; i++) expect((await dig(wp.server, `name${i}.test.wachtpost`, 'A')).answer[0]!.data).toBe(`192.0.2.${i}`);
    const { counters, forwardCounters } = wp.resolver.chain.upstream;
    expect(counters.rejectedCase).toBeGreaterThanOrEqual(1);
    expect(forwardCounters.caseFallbacks).toBe(1);
    // The plain retry is no late answer of an earlier attempt.
    expect(forwardCounters.lateAnswers).toBe(0);
    // After the first question, this server is asked in plain case only.
    const firstPlain = up.queries.findIndex((query) => !mixed(query.name));
    expect(up.queries.slice(firstPlain).every((query) => !mixed(query.name))).toBe(true);
    expect(up.queries.length).toBe(firstPlain + 3);
  });

  it('asks in plain case when switched off', async () => {
    const { up, wp } = await setUp('upstream: { randomize_case: false }');
    for (let i = 0; i < 3; i++) await dig(wp.server, `name${i}.test.wachtpost`, 'A');
    expect(up.queries.some((query) => mixed(query.name))).toBe(false);
  });

  it('works with Knot, which echoes the case it was asked in', async () => {
    const knot = await startKnot();
    running.push(knot);
    const spelled = encodeQuery('A.tEsT.WachtPost', TYPE.A, { id: 5 });
    const direct = (await rawQuery(knot, spelled))!;
    expect(direct.subarray(12, 12 + 18)).toEqual(spelled.subarray(12, 12 + 18));
    const wp = await startWachtpost([knot]);
    running.unshift(wp);
    for (const name of ['a.test.wachtpost', 'multi.test.wachtpost', 'chain.test.wachtpost']) expect((await dig(wp.server, name, 'A')).status).toBe('NOERROR');
    expect(wp.resolver.chain.upstream.counters.rejectedCase).toBe(0);
    expect(wp.resolver.chain.upstream.forwardCounters.caseFallbacks).toBe(0);
  });
});
